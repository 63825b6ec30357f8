"""The binary's start-up failures: clear message and exit code, before any network call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "barbican-kms-plugin"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_missing_cloud_config_flag() -> None:
    result = run("--socketpath=/tmp/never.sock")
    assert result.returncode == 2
    assert "--cloud-config is required" in result.stderr


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
