"""The one-file exec plugin: built by services/keystone_auth/build_zipapp.py, deterministic,
standard library only, runnable by a bare ``python3 -I``. Its logins against the real Keystone
are in test_keystone_contract.py."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_zipapp", REPO / "services" / "keystone_auth" / "build_zipapp.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_zipapp"] = module
    spec.loader.exec_module(module)
    return module


builder = load_builder()


def bare_python() -> str:
    """The interpreter under the venv: with -I -S it sees the standard library only."""
    return str(getattr(sys, "_base_executable", sys.executable))


def test_keystone_zipapp_build_is_deterministic(tmp_path: Path) -> None:
    first = builder.build(tmp_path / "a" / "client-keystone-auth.pyz")
    second = builder.build(tmp_path / "b" / "client-keystone-auth.pyz")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    assert first.stat().st_mode & 0o777 == 0o755
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert {i.date_time for i in infos} == {builder.FIXED_TIME}
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert first.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_keystone_zipapp_carries_the_client_and_nothing_of_the_webhook() -> None:
    with zipfile.ZipFile(io.BytesIO(builder.build_bytes())) as archive:
        names = set(archive.namelist())
    for needed in (
        "__main__.py",
        "osk8s_keystone_auth/client.py",
        "osk8s_keystone_auth/keystone_login.py",
        "osk8s_keystone_auth/discovery.py",
        "osk8s_keystone_auth/exec_credential.py",
        "osk8s_core/secrets.py",
        "osk8s_core/errors.py",
    ):
        assert needed in names
    for webhook_only in ("app.py", "service.py", "keystone.py", "token_cache.py"):
        assert f"osk8s_keystone_auth/{webhook_only}" not in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_keystone_zipapp_refuses_a_module_that_needs_a_third_party_library() -> None:
    with pytest.raises(builder.BuildError, match="not in the stdlib"):
        builder.closure("osk8s_keystone_auth.app")  # Flask


def test_keystone_zipapp_runs_on_a_bare_python(tmp_path: Path) -> None:
    pyz = builder.build(tmp_path / "client-keystone-auth.pyz")
    version = subprocess.run(
        [bare_python(), "-I", "-S", str(pyz), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("client-keystone-auth (osk8s)")
    # No Keystone: a clear error, exit 1, and nothing written to HOME.
    home = tmp_path / "home"
    home.mkdir()
    failed = subprocess.run(
        [bare_python(), "-I", "-S", str(pyz)],
        env={
            "HOME": str(home),
            "OS_AUTH_URL": "http://127.0.0.1:9/v3",
            "OS_USERNAME": "a",
            "OS_PASSWORD": "pw",
            "OS_PROJECT_NAME": "p",
            "OS_DOMAIN_NAME": "Default",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert failed.returncode == 1
    assert "cannot reach Keystone" in failed.stderr and "pw" not in failed.stderr
    assert list(home.iterdir()) == []
