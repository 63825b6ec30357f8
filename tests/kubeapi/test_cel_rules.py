"""x-kubernetes-validations CEL rules: self, oldSelf transition rules, messageExpression,
fieldPath, reason, evaluation errors, and the Kubernetes CEL functions we lack."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from . import schema_crds
from .conftest import status_body
from .schema_crds import GROUP, PLURAL, gadget

gadgets = schema_crds.gadgets  # the shared fixture


def _causes(custom: client.CustomObjectsApi, body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(client.ApiException) as caught:
        custom.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, body)
    assert caught.value.status == 422
    status = status_body(caught.value)
    assert status["reason"] == "Invalid"
    causes: list[dict[str, str]] = status["details"]["causes"]
    return causes


def test_false_rule_reports_message_at_the_node(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget(limits={"min": 1, "max": 200}))
    # reason FieldValueForbidden: field.Forbidden prints no value
    assert causes == [
        {"reason": "FieldValueForbidden", "field": "spec.limits", "message": "Forbidden: too big"}
    ]


def test_message_expression_and_field_path(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget(limits={"min": 5, "max": 2}))
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.limits.min",
            "message": 'Invalid value: "object": min 5 exceeds max 2',
        }
    ]


def test_rule_without_message_says_failed_rule(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget(lower="ABC"))
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.lower",
            "message": 'Invalid value: "string": failed rule: self.lowerAscii() == self',
        }
    ]
    made = gadgets.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, gadget(lower="abc")
    )
    assert made["spec"]["lower"] == "abc"


def test_root_rule_sees_metadata_name(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget("forbidden"))
    # upstream prints the root's nil field path as "<nil>"
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "<nil>",
            "message": 'Invalid value: "object": name is reserved',
        }
    ]


def test_evaluation_error_is_reported_with_the_rule(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget(limits={"min": 1}))
    assert causes[0]["field"] == "spec.limits"
    assert causes[0]["message"] == (
        'Invalid value: "object": no such key: max evaluating rule: self.min <= self.max'
    )


def test_unsupported_kubernetes_function_fails_loudly(gadgets: client.CustomObjectsApi) -> None:
    causes = _causes(gadgets, gadget(exotic="2"))
    assert causes[0]["field"] == "spec.exotic"
    assert "unsupported CEL function or variable '" in causes[0]["message"]
    assert "evaluating rule: quantity(self).isGreaterThan(quantity('1'))" in causes[0]["message"]


def test_transition_rule_uses_old_self_on_update_only(gadgets: client.CustomObjectsApi) -> None:
    # rule: (!has(self.region) && !has(oldSelf.region)) || self.region == oldSelf.region
    made = gadgets.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, gadget(zone={"region": "a"})
    )
    assert made["spec"]["zone"] == {"region": "a"}
    with pytest.raises(client.ApiException) as caught:
        gadgets.patch_namespaced_custom_object(
            GROUP, "v1", "default", PLURAL, "g", {"spec": {"zone": {"region": "b"}}}
        )
    assert status_body(caught.value)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.zone",
            "message": 'Invalid value: "object": region is immutable',
        }
    ]
    same = gadgets.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "g", {"spec": {"zone": {"region": "a"}, "size": 4}}
    )
    assert same["spec"]["size"] == 4
    # no old value at the node (zone added by the update): the transition rule is skipped
    fresh = gadgets.create_namespaced_custom_object(GROUP, "v1", "default", PLURAL, gadget("h"))
    assert "zone" not in fresh["spec"]
    added = gadgets.patch_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, "h", {"spec": {"zone": {"region": "c"}}}
    )
    assert added["spec"]["zone"] == {"region": "c"}


def test_status_writes_run_the_status_rules(gadgets: client.CustomObjectsApi) -> None:
    # status rule: !has(self.count) || self.count >= 0
    made = gadgets.create_namespaced_custom_object(
        GROUP, "v1", "default", PLURAL, gadget(limits={"min": 1, "max": 2})
    )
    made["status"] = {"phase": "Ready", "count": -1}
    with pytest.raises(client.ApiException) as caught:
        gadgets.replace_namespaced_custom_object_status(GROUP, "v1", "default", PLURAL, "g", made)
    assert status_body(caught.value)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "status",
            "message": 'Invalid value: "object": count must not be negative',
        }
    ]
    made["status"]["count"] = 1
    written = gadgets.replace_namespaced_custom_object_status(
        GROUP, "v1", "default", PLURAL, "g", made
    )
    assert written["status"] == {"phase": "Ready", "count": 1}
    # on the main resource status is ignored, so its rules do not apply there
    written["status"]["count"] = -5
    written["spec"]["size"] = 2
    updated = gadgets.replace_namespaced_custom_object(GROUP, "v1", "default", PLURAL, "g", written)
    assert updated["status"]["count"] == 1
    assert updated["spec"]["size"] == 2
