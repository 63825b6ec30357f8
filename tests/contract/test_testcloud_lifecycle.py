"""The test cloud's own promises: `up` twice is harmless, and nothing listens beyond loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TestCloud

pytestmark = pytest.mark.contract
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}


def _recorded_pids(run: Path) -> dict[str, str]:
    return {pid_file.stem: pid_file.read_text().split()[0] for pid_file in run.glob("*.pid")}


def _group_of(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[2]  # field 5: process group id


def test_up_again_restarts_nothing_and_answers(testcloud: TestCloud) -> None:
    before = _recorded_pids(testcloud.layout.run)
    assert before, "no pid files: the test cloud was not started by osk8s-testcloud"
    up = subprocess.run(
        [
            str(Path(sys.executable).parent / "osk8s-testcloud"),
            "--dir",
            str(testcloud.layout.root),
            "up",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    # `up` (the fast set, a subset of whatever runs) finds everything up: same processes.
    assert _recorded_pids(testcloud.layout.run) == before


def test_every_test_cloud_socket_listens_on_loopback_only(testcloud: TestCloud) -> None:
    groups = set(_recorded_pids(testcloud.layout.run).values())
    listing = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    ours = 0
    for line in listing.splitlines():
        pids = re.findall(r"pid=(\d+)", line)
        if not any(_group_of(pid) in groups for pid in pids):
            continue
        ours += 1
        local = line.split()[3]
        host = local.rsplit(":", 1)[0]
        assert host in LOOPBACK, f"test cloud socket bound beyond loopback: {line}"
    assert ours >= 5  # keystone, barbican, neutron, octavia, cinder at least
