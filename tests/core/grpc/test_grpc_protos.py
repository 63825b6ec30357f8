"""The committed CSI/KMS stubs equal a fresh generation and work with the installed runtime."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from google.protobuf import json_format

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "libs" / "osk8s_core"
COMMITTED = LIB / "src" / "osk8s_core" / "proto"


def _files(base: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(base)): p
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_stubs_equal_fresh_generation(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(LIB / "scripts" / "gen_protos.py"), "--out", str(tmp_path)],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    fresh = _files(tmp_path / "osk8s_core" / "proto")
    committed = _files(COMMITTED)
    hint = "run: .venv/bin/python libs/osk8s_core/scripts/gen_protos.py"
    assert sorted(fresh) == sorted(committed), hint
    differing = [name for name in fresh if not filecmp.cmp(fresh[name], committed[name], False)]
    assert differing == [], f"stubs differ from a fresh generation: {differing}; {hint}"
    assert {"csi/csi_pb2.py", "csi/csi_pb2.pyi", "csi/csi_pb2_grpc.py"} <= set(committed)


def test_vendored_protos_carry_their_license() -> None:
    for folder in ("csi", "kms"):
        text = (LIB / "proto" / folder / "LICENSE").read_text()
        assert "Apache License" in text


def test_csi_messages_round_trip_on_installed_runtime() -> None:
    from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc

    request = csi_pb2.CreateVolumeRequest(
        name="pvc-1",
        capacity_range=csi_pb2.CapacityRange(required_bytes=1 << 30),
        secrets={"os-password": "x"},
    )
    decoded = csi_pb2.CreateVolumeRequest.FromString(request.SerializeToString())
    assert decoded.name == "pvc-1"
    assert decoded.capacity_range.required_bytes == 1 << 30
    assert dict(decoded.secrets) == {"os-password": "x"}
    # The csi_secret field option survived generation (used by sanitizers upstream).
    field = csi_pb2.CreateVolumeRequest.DESCRIPTOR.fields_by_name["secrets"]
    assert field.GetOptions().Extensions[csi_pb2.csi_secret] is True
    assert hasattr(csi_pb2_grpc, "add_NodeServicer_to_server")
    assert csi_pb2.DESCRIPTOR.package == "csi.v1"


def test_kms_v1beta1_and_v2_coexist_in_one_process() -> None:
    from osk8s_core.proto.kms.v1beta1 import api_pb2 as v1beta1
    from osk8s_core.proto.kms.v2 import api_pb2 as v2

    assert v1beta1.DESCRIPTOR.name != v2.DESCRIPTOR.name
    assert v1beta1.DESCRIPTOR.services_by_name["KeyManagementService"].full_name == (
        "v1beta1.KeyManagementService"
    )
    assert v2.DESCRIPTOR.services_by_name["KeyManagementService"].full_name == (
        "v2.KeyManagementService"
    )
    msg = v2.EncryptRequest(plaintext=b"\x00dek", uid="u1")
    assert v2.EncryptRequest.FromString(msg.SerializeToString()).plaintext == b"\x00dek"
    assert json_format.MessageToDict(v1beta1.VersionRequest(version="v1beta1")) == {
        "version": "v1beta1"
    }
