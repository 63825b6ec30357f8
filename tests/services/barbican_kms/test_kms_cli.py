"""The binary's start-up failures: clear message and CPO's exit code, before any network call.

CPO's barbican-kms-plugin is a cobra command run by component-base's cli.Run: a flag error or
an error returned from Run (config file, Keystone, catalog) exits 1; a socket it cannot
listen on exits 255 (klog.Fatalf). The README's "Start-up and exit codes" lists each case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .kms_fake_cloud import running_fake_cloud
from .kms_fakes import KEY_A

BIN = Path(sys.executable).parent / "barbican-kms-plugin"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_missing_cloud_config_flag() -> None:
    result = run("--socketpath=/tmp/never.sock")
    assert result.returncode == 1
    assert "--cloud-config is required" in result.stderr


def test_missing_socketpath_flag(tmp_path: Path) -> None:
    result = run(f"--cloud-config={tmp_path / 'cloud.conf'}")
    assert result.returncode == 1
    assert "--socketpath is required" in result.stderr


def test_unknown_flag_exits_1_and_help_exits_0() -> None:
    result = run("--socketpath=/tmp/never.sock", "--no-such-flag")
    assert result.returncode == 1
    assert "--no-such-flag" in result.stderr
    assert run("--help").returncode == 0


def test_socket_that_cannot_be_listened_on_exits_255(tmp_path: Path) -> None:
    conf = tmp_path / "cloud.conf"
    with running_fake_cloud() as cloud:  # the key loads: the plugin gets as far as the socket
        cloud.payloads[KEY_A] = os.urandom(32)
        conf.write_text(cloud.cloud_conf(KEY_A))
        result, taken = _run_on_regular_file(tmp_path, conf)
    assert result.returncode == 255
    assert "listen_failed" in result.stderr
    assert taken.read_text() == "a regular file the plugin must not delete"


def _run_on_regular_file(
    tmp_path: Path, conf: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    taken = tmp_path / "not-a-socket"
    taken.write_text("a regular file the plugin must not delete")
    return run(f"--socketpath={taken}", f"--cloud-config={conf}", "--log-format=console"), taken


def test_config_without_key_id_exits_1_naming_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "cloud.conf"
    conf.write_text("[Global]\nauth-url = http://127.0.0.1:1/v3\nusername = u\npassword = p\n")
    sock = tmp_path / "kms.sock"
    result = run(f"--socketpath={sock}", f"--cloud-config={conf}", "--log-format=console")
    assert result.returncode == 1
    assert "key-id" in result.stderr and "no key configured" in result.stderr
    assert not sock.exists()


def test_unreadable_cloud_config_exits_1(tmp_path: Path) -> None:
    result = run(f"--socketpath={tmp_path / 's'}", f"--cloud-config={tmp_path / 'missing'}")
    assert result.returncode == 1
    assert "file not found" in result.stderr
