"""Payload logging never shows CSI secrets or KMS key material, for every KMS version."""

from __future__ import annotations

import json

from osk8s_core.grpc.redact import redact_message
from osk8s_core.proto.csi import csi_pb2
from osk8s_core.proto.kms.v1beta1 import api_pb2 as kms_v1
from osk8s_core.proto.kms.v2 import api_pb2 as kms_v2

SECRET = b"top-secret-dek-bytes"


def _text(message: object) -> str:
    return json.dumps(redact_message(message), default=str)  # type: ignore[arg-type]


def test_kms_v1beta1_plain_is_stripped() -> None:
    out = _text(kms_v1.EncryptRequest(version="v1beta1", plain=SECRET))
    assert "top-secret" not in out and "dG9wLXNlY3JldC" not in out  # raw or base64
    assert "v1beta1" in out


def test_kms_v2_plaintext_is_stripped() -> None:
    out = _text(kms_v2.EncryptRequest(uid="u1", plaintext=SECRET))
    assert "top-secret" not in out and "dG9wLXNlY3JldC" not in out
    assert "u1" in out


def test_csi_secrets_map_is_stripped() -> None:
    request = csi_pb2.CreateVolumeRequest(name="pvc-1", secrets={"os-password": "hunter2"})
    out = _text(request)
    assert "hunter2" not in out
    assert "pvc-1" in out
