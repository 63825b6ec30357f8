"""The single mapping of Kubernetes client exceptions onto osk8s_core.errors."""

from __future__ import annotations

import json

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from osk8s_core.errors import (
    KubernetesConflict,
    KubernetesError,
    KubernetesGone,
    KubernetesNotFound,
)
from osk8s_core.k8s.apierrors import from_api_exception, translate_api_errors


def status_body(code, reason, message):
    return json.dumps(
        {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    )


@pytest.mark.parametrize(
    ("code", "cls"),
    [(404, KubernetesNotFound), (409, KubernetesConflict), (410, KubernetesGone)],
)
def test_status_codes_map_to_our_tree(code, cls):
    exc = ApiException(status=code, reason="x")
    exc.body = status_body(code, "SomeReason", "the message")
    err = from_api_exception(exc, "update lease ns/l")
    assert type(err) is cls
    assert err.status == code
    assert err.reason == "SomeReason"
    assert str(err) == "update lease ns/l: the message"


def test_other_statuses_are_plain_kubernetes_errors():
    exc = ApiException(status=500, reason="Internal Server Error")
    exc.body = "<html>" + "x" * 5000
    err = from_api_exception(exc)
    assert type(err) is KubernetesError
    assert err.status == 500
    assert len(str(err)) <= 300, "remote bodies are truncated"


def test_context_manager_translates_and_chains():
    exc = ApiException(status=409, reason="Conflict")
    with pytest.raises(KubernetesConflict) as info, translate_api_errors("replace x"):
        raise exc
    assert info.value.__cause__ is exc


def test_transport_errors_have_no_status():
    with pytest.raises(KubernetesError) as info, translate_api_errors("list pods"):
        raise urllib3.exceptions.ProtocolError("connection broken")
    assert info.value.status is None
    assert "list pods" in str(info.value)
