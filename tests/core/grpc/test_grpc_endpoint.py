"""--endpoint parsing as CPO/CSI sidecars accept it, and unix socket preparation."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from osk8s_core.errors import ConfigError
from osk8s_core.grpc.endpoint import Endpoint, parse_endpoint, prepare_unix_socket


@pytest.mark.parametrize(
    ("raw", "path", "address"),
    [
        ("unix:///csi/csi.sock", "/csi/csi.sock", "unix:///csi/csi.sock"),
        ("unix://csi/csi.sock", "csi/csi.sock", "unix:csi/csi.sock"),  # CPO manifests
        ("UNIX:///var/lib/kms/kms.sock", "/var/lib/kms/kms.sock", "unix:///var/lib/kms/kms.sock"),
        ("unix:/run/plugin.sock", "/run/plugin.sock", "unix:///run/plugin.sock"),
        ("/var/lib/kubelet/plugins/x/csi.sock", "/var/lib/kubelet/plugins/x/csi.sock", None),
        ("  unix:///tmp/a.sock ", "/tmp/a.sock", "unix:///tmp/a.sock"),
    ],
)
def test_unix_forms(raw: str, path: str, address: str | None) -> None:
    endpoint = parse_endpoint(raw)
    assert endpoint == Endpoint(scheme="unix", path=path)
    if address:
        assert endpoint.grpc_address == address


@pytest.mark.parametrize(
    ("raw", "host", "port", "address"),
    [
        ("tcp://127.0.0.1:10000", "127.0.0.1", 10000, "127.0.0.1:10000"),
        ("tcp://:10000", "", 10000, "[::]:10000"),
        ("tcp://[::1]:5000", "::1", 5000, "[::1]:5000"),
        ("tcp://localhost:0", "localhost", 0, "localhost:0"),
    ],
)
def test_tcp_forms(raw: str, host: str, port: int, address: str) -> None:
    endpoint = parse_endpoint(raw)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == ("tcp", host, port)
    assert endpoint.grpc_address == address


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "csi.sock",  # relative without scheme
        "unix://",
        "unix:///",
        "unix:relative.sock",
        "http://127.0.0.1:80",
        "unix-abstract:foo",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:http",
        "tcp://127.0.0.1:70000",
        "tcp://[::1:5",
        "unix:///tmp/a\x00b",
    ],
)
def test_rejected_forms_raise_config_error_naming_accepted_forms(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_endpoint(raw)
    assert info.value.key == "endpoint"
    assert "tcp://host:port" in str(info.value)


def test_prepare_creates_missing_parent(sock_dir: Path) -> None:
    target = sock_dir / "a" / "b" / "csi.sock"
    assert prepare_unix_socket(target) == target
    assert target.parent.is_dir()
    assert not target.exists()


def test_prepare_removes_stale_socket(sock_dir: Path) -> None:
    target = sock_dir / "csi.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(target))
    assert target.is_socket()
    prepare_unix_socket(target)
    assert not target.exists()


def test_prepare_refuses_regular_file_and_keeps_it(sock_dir: Path) -> None:
    target = sock_dir / "important.db"
    target.write_text("data")
    with pytest.raises(ConfigError, match="not a unix socket"):
        prepare_unix_socket(target)
    assert target.read_text() == "data"


def test_prepare_refuses_directory_and_symlink(sock_dir: Path) -> None:
    (sock_dir / "dir").mkdir()
    with pytest.raises(ConfigError):
        prepare_unix_socket(sock_dir / "dir")
    real = sock_dir / "real.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(real))
    os.symlink(real, sock_dir / "link.sock")
    with pytest.raises(ConfigError):
        prepare_unix_socket(sock_dir / "link.sock")
    assert real.is_socket()
