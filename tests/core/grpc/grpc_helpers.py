"""Helpers for the gRPC plumbing tests: tiny servicers on the generated stubs and a recording
logger (a fake of the narrow ``Logger`` protocol only). A uniquely named module, not conftest,
so imports cannot collide with other test folders' conftest modules."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog

from osk8s_core import errors
from osk8s_core.grpc.interceptors import current_request_id
from osk8s_core.grpc.server import ServiceRegistration
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_core.proto.kms.v2 import api_pb2 as kms_pb2
from osk8s_core.proto.kms.v2 import api_pb2_grpc as kms_grpc


@dataclass
class RecordingLogger:
    """Records each call with the structlog contextvars bound at that moment."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, level: str, event: str, **kw: Any) -> None:
        entry = {"level": level, "event": event, **kw}
        entry["bound"] = structlog.contextvars.get_contextvars()
        with self.lock:
            self.lines.append(entry)

    def debug(self, event: str, **kw: Any) -> None:
        self._record("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._record("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._record("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._record("error", event, **kw)


class KmsServicer(kms_grpc.KeyManagementServiceServicer):
    """KMS v2 test servicer whose behaviour is chosen by the request's uid."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.seen_request_ids: list[str | None] = []

    def Status(self, request: Any, context: Any) -> Any:  # noqa: N802
        return kms_pb2.StatusResponse(version="v2", healthz="ok", key_id="key-1")

    def Encrypt(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.seen_request_ids.append(current_request_id())
        uid = request.uid
        if uid == "notfound":
            raise errors.NotFound("secret 1234 not found")
        if uid == "boom":
            raise RuntimeError("db password hunter2 leaked in a traceback")
        if uid == "abort":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "explicit abort")
        if uid == "slow":
            self.entered.set()
            self.release.wait(10)
        return kms_pb2.EncryptResponse(ciphertext=b"c:" + request.plaintext, key_id="key-1")

    def Decrypt(self, request: Any, context: Any) -> Any:  # noqa: N802
        return kms_pb2.DecryptResponse(plaintext=request.ciphertext[2:])


class IdentityServicer(csi_pb2_grpc.IdentityServicer):
    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.GetPluginInfoResponse(name="test.csi.osk8s", vendor_version="0.1.0")


class ControllerServicer(csi_pb2_grpc.ControllerServicer):
    def DeleteVolume(self, request: Any, context: Any) -> Any:  # noqa: N802
        return csi_pb2.DeleteVolumeResponse()


def kms_registration(servicer: KmsServicer) -> ServiceRegistration:
    name = kms_pb2.DESCRIPTOR.services_by_name["KeyManagementService"].full_name
    return ServiceRegistration(
        name=name,
        register=lambda s: kms_grpc.add_KeyManagementServiceServicer_to_server(servicer, s),
    )


def csi_registrations() -> list[ServiceRegistration]:
    identity, controller = IdentityServicer(), ControllerServicer()
    services = csi_pb2.DESCRIPTOR.services_by_name
    return [
        ServiceRegistration(
            name=services["Identity"].full_name,
            register=lambda s: csi_pb2_grpc.add_IdentityServicer_to_server(identity, s),
        ),
        ServiceRegistration(
            name=services["Controller"].full_name,
            register=lambda s: csi_pb2_grpc.add_ControllerServicer_to_server(controller, s),
        ),
    ]
