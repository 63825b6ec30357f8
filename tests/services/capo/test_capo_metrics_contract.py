"""CAPO's OpenStack request metrics as the real binary wires them (``app.build_dependencies``),
against the test cloud: a 404 on a get or a delete is an answer (CAPO's
``ObserveRequestIgnoreNotFound``, capo.md §4), counted as a request but not as an error; a
404 on a create, and any other failure, is an error. OCCM keeps CPO's "every 404 is an error"
(tests/services/ccm/test_ccm_process_contract.py pins ``server_get``)."""

from __future__ import annotations

import uuid

import pytest

from osk8s_capo.app import build_dependencies
from osk8s_capo.credentials import IdentityRef
from osk8s_capo.manager import Manager, ManagerOptions
from osk8s_core import errors
from osk8s_core.crashpoints import NO_CRASH_POINTS
from osk8s_core.openstack.servers import Servers
from osk8s_core.openstack.volumes import Volumes

from .capo_harness import World

pytestmark = pytest.mark.contract


def test_not_found_on_get_and_delete_is_no_error(world: World) -> None:
    manager = Manager(api_client=world.api, options=ManagerOptions(namespace=world.namespace))
    deps = build_dependencies(manager, crash_points=NO_CRASH_POINTS, environ={})
    scope = deps.scopes.scope(
        world.namespace, IdentityRef(name="cloud-config", cloud_name="openstack")
    )
    missing = str(uuid.uuid4())
    with pytest.raises(errors.NotFound):
        Servers(scope.client).get(missing)
    with pytest.raises(errors.NotFound):
        Volumes(scope.client).get(missing)
    with pytest.raises(errors.NotFound):
        scope.ports.create(missing, f"leaks-{missing}")  # a create naming a missing network

    def value(name: str, request: str) -> float:
        sample = manager.registry.get_sample_value(
            f"capo_openstack_api_{name}", {"request": request}
        )
        return sample or 0.0

    for request in ("server_get", "volume_get"):
        assert value("requests_total", request) == 1, request
        assert value("request_duration_seconds_count", request) == 1, request
        assert value("request_errors_total", request) == 0, request
    assert value("requests_total", "port_create") == 1
    assert value("request_errors_total", "port_create") == 1
