"""The control endpoint (JSON over HTTP) and the standalone ``osk8s-fault-proxy`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from fp_upstream import Upstream

from osk8s_testing.faultproxy import FaultProxy
from osk8s_testing.faultproxy.cli import main


def test_rules_set_and_listed_over_http(proxy: FaultProxy, upstream: Upstream) -> None:
    r = requests.post(
        f"{proxy.url}/__faults__",
        json={
            "rules": [
                {
                    "method": "GET",
                    "path": "^/v3/auth",
                    "fault": "status",
                    "status": 503,
                    "first": 2,
                },
                {"path": "^/slow", "fault": "latency", "seconds": 0.01},
            ]
        },
        timeout=5,
    )
    assert r.status_code == 201
    assert [x["fault"] for x in r.json()["rules"]] == ["respond", "latency"]
    statuses = [
        requests.get(f"{proxy.url}/v3/auth/tokens", timeout=5).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    listed = requests.get(f"{proxy.url}/__faults__", timeout=5).json()["rules"]
    assert (listed[0]["matched"], listed[0]["fired"], listed[0]["first"]) == (3, 2, 2)
    calls = requests.get(f"{proxy.url}/__faults__/calls", timeout=5).json()["calls"]
    # control calls are neither forwarded nor recorded
    assert [(c["path"], c["status"]) for c in calls] == [("/v3/auth/tokens", s) for s in statuses]
    assert upstream.hits == 1


def test_single_rule_object_rate_limit_and_delete(proxy: FaultProxy) -> None:
    r = requests.post(
        f"{proxy.url}/__faults__", json={"fault": "rate_limit", "retry_after": 3}, timeout=5
    )
    rule_id = r.json()["rules"][0]["id"]
    got = requests.get(f"{proxy.url}/x", timeout=5)
    assert (got.status_code, got.headers["Retry-After"]) == (429, "3")
    assert requests.delete(f"{proxy.url}/__faults__/rules/{rule_id}", timeout=5).status_code == 204
    assert requests.delete(f"{proxy.url}/__faults__/rules/{rule_id}", timeout=5).status_code == 404
    assert requests.get(f"{proxy.url}/x", timeout=5).status_code == 200
    requests.post(f"{proxy.url}/__faults__", json={"fault": "reset", "nth": 9}, timeout=5)
    assert requests.delete(f"{proxy.url}/__faults__", timeout=5).status_code == 204
    assert requests.get(f"{proxy.url}/__faults__", timeout=5).json() == {"rules": []}
    assert requests.delete(f"{proxy.url}/__faults__/calls", timeout=5).status_code == 204
    assert proxy.calls.all() == []


def test_bad_rules_answer_400(proxy: FaultProxy) -> None:
    bad = [
        b"{not json",
        b'{"fault": "explode"}',
        b'{"fault": "status", "nth": 1, "first": 2}',
        b'{"fault": "hang"}',
        b'{"fault": "reset", "path": "("}',
        b'{"rules": "nope"}',
        b"[1]",
    ]
    for body in bad:
        r = requests.post(f"{proxy.url}/__faults__", data=body, timeout=5)
        assert r.status_code == 400, body
        assert r.json()["error"]
    assert list(proxy.rules) == []


def test_standalone_command(upstream: Upstream, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("osk8s-fault-proxy")
    stderr = (tmp_path / "stderr").open("w+")
    proc = subprocess.Popen(
        [str(exe), "--upstream", upstream.url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("OS_")},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        requests.post(
            f"{url}/__faults__", json={"fault": "status", "status": 500, "nth": 1}, timeout=5
        )
        assert requests.get(f"{url}/a", timeout=5).status_code == 500
        assert requests.get(f"{url}/a", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0
    stderr.seek(0)
    assert stderr.read().splitlines() == ["GET /a 500 fault=respond", "GET /a 200"]


def test_command_refuses_bad_rewrite(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--upstream", "http://127.0.0.1:1", "--rewrite", "nonsense"])
    assert info.value.code == 2
    assert "UPSTREAM_URL=PROXY_URL" in capsys.readouterr().err
