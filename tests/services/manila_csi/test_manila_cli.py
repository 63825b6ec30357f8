"""``manila-csi-plugin`` flags (§3.5): required ones fail as upstream's cobra does, values are
validated before anything starts, deprecated ones are accepted; the process serves on its
socket once the partner plugin answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import structlog

from osk8s_core.errors import ConfigError
from osk8s_core.proto.csi import csi_pb2, csi_pb2_grpc
from osk8s_manila_csi.cli import build_parser, main
from osk8s_manila_csi.partner import PartnerTimings, connect_partner
from osk8s_manila_csi.settings import settings_from_args
from osk8s_testing.csi.partner import serve_partner


def test_required_flags_fail_like_cobra(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert capsys.readouterr().err == (
        'Error: required flag(s) "fwdendpoint", "share-protocol-selector" not set\n'
    )
    assert main(["--share-protocol-selector=NFS"]) == 1
    assert '"fwdendpoint"' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--share-protocol-selector=GLUSTER", "--fwdendpoint=unix:///x.sock"], "NFS or CEPHFS"),
        (["--share-protocol-selector=NFS", "--fwdendpoint="], "fwdendpoint"),
        (["--share-protocol-selector=NFS", "--fwdendpoint=http://x"], "endpoint"),
        (
            ["--share-protocol-selector=NFS", "--fwdendpoint=/x.sock", "--endpoint=ftp://x"],
            "endpoint",
        ),
    ],
)
def test_bad_values_exit_1_naming_the_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("manila-csi-plugin: ") and needle in err


def test_defaults_case_and_deprecated_flags() -> None:
    args = build_parser().parse_args(
        [
            "--share-protocol-selector=cephfs",
            "--fwdendpoint=unix:///csi/csi-cephfsplugin.sock",
            "--nodeid=n1",
            "--nodeaz=az",
            "--compatibility-settings=x",
            "--provide-controller-service=false",
            "--user-agent=a",
            "--user-agent=b",
        ]
    )
    settings = settings_from_args(args)
    assert settings.protocol == "CEPHFS"
    assert settings.endpoint == "unix://tmp/csi.sock"
    assert settings.driver_name == "manila.csi.openstack.org"
    assert not settings.with_topology and not settings.controller and settings.node
    assert settings.deprecated == ("--nodeid", "--nodeaz", "--compatibility-settings")
    assert settings.user_agent == ("a", "b")


def test_process_serves_after_the_partner_answers(tmp_path: Path) -> None:
    """The real binary: connects to the partner, probes it, then serves Identity and Node
    (node only: no secrets-free controller call is needed to prove it runs)."""
    sock = tmp_path / "csi.sock"
    with serve_partner(tmp_path / "partner.sock") as partner:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "osk8s_manila_csi",
                f"--endpoint=unix://{sock}",
                "--drivername=nfs.manila.csi.openstack.org",
                "--share-protocol-selector=NFS",
                f"--fwdendpoint={partner.endpoint}",
                "--provide-controller-service=false",
                "--nodeid=ignored",
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not sock.exists() and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            with grpc.insecure_channel(f"unix://{sock}") as channel:
                identity = csi_pb2_grpc.IdentityStub(channel)  # type: ignore[no-untyped-call]
                info = identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=10)
                assert info.name == "nfs.manila.csi.openstack.org"
                node = csi_pb2_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
                caps = node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest(), timeout=10)
                assert len(caps.capabilities) == 2
            assert partner.recorder.of("Probe")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_unreachable_partner_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did not answer within 0\.3 s"):
        connect_partner(
            f"unix://{tmp_path}/nobody.sock",
            timings=PartnerTimings(connect_timeout=0.3),
            logger=structlog.get_logger("t"),
        )
