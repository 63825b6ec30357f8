"""The core's CSI handler plumbing: required fields before the lock, per-key in-flight locks
(ABORTED for a second call on the same key), and the error -> status table."""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pytest
import structlog
from prometheus_client import CollectorRegistry

from osk8s_core import errors
from osk8s_core.grpc.csi import (
    CSI_STATUS,
    FailedPrecondition,
    InFlight,
    InvalidArgument,
    OperationPending,
    csi_interceptors,
    rpc,
)
from osk8s_core.grpc.interceptors import (
    ErrorMappingInterceptor,
    LoggingInterceptor,
    MetricsInterceptor,
)
from osk8s_core.proto.csi import csi_pb2


class Servicer:
    def __init__(self) -> None:
        self.in_flight = InFlight()
        self.entered = threading.Event()
        self.release = threading.Event()

    @rpc(required=("volume_id", "capacity_range"), lock="volume_id")
    def Expand(self, request: Any, context: Any) -> str:  # noqa: N802
        self.entered.set()
        self.release.wait(30)
        return f"expanded {request.volume_id}"


def test_required_fields_are_checked_before_anything() -> None:
    servicer = Servicer()
    with pytest.raises(InvalidArgument, match="volume_id, capacity_range"):
        servicer.Expand(csi_pb2.ControllerExpandVolumeRequest(), None)
    with pytest.raises(InvalidArgument, match="capacity_range"):
        servicer.Expand(csi_pb2.ControllerExpandVolumeRequest(volume_id="v"), None)


def test_a_second_call_on_the_same_key_is_aborted_then_the_lock_is_released() -> None:
    servicer = Servicer()
    request = csi_pb2.ControllerExpandVolumeRequest(
        volume_id="v1", capacity_range=csi_pb2.CapacityRange(required_bytes=1)
    )
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(servicer.Expand(request, None)))
    first.start()
    assert servicer.entered.wait(30)
    assert "v1" in servicer.in_flight
    with pytest.raises(OperationPending):
        servicer.Expand(request, None)
    servicer.release.set()
    first.join(30)
    assert results == ["expanded v1"] and "v1" not in servicer.in_flight
    assert servicer.Expand(request, None) == "expanded v1"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (OperationPending("x"), grpc.StatusCode.ABORTED),
        (FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.Unauthorized("x"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.CredentialsError("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.WaitTimeout("x"), grpc.StatusCode.DEADLINE_EXCEEDED),
        (errors.Osk8sError("x"), grpc.StatusCode.INTERNAL),
        # Matches CPO: quota (HTTP 413) backs the provisioner off.
        (errors.OverLimit("quota"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.RateLimited("x"), grpc.StatusCode.UNAVAILABLE),
        (errors.ResourceError("x"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_table(error: errors.Osk8sError, code: grpc.StatusCode) -> None:
    assert CSI_STATUS(error) is code


def test_in_flight_lock_is_per_key_and_released() -> None:
    locks = InFlight()
    with locks.hold("v1"):
        assert "v1" in locks
        with pytest.raises(OperationPending), locks.hold("v1"):
            pass
        with locks.hold("v2"):
            pass
    assert "v1" not in locks


def test_csi_interceptors_log_then_count_then_map() -> None:
    # Mapping innermost: the log line and the metric see the CSI code, not an exception.
    stack = csi_interceptors(logger=structlog.get_logger("t"), registry=CollectorRegistry())
    assert [type(i) for i in stack] == [
        LoggingInterceptor,
        MetricsInterceptor,
        ErrorMappingInterceptor,
    ]
