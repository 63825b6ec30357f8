"""Unit tests of the test cloud tooling that need no OpenStack: templates, service selection,
outputs, passwords, progress, readiness waits and the pid-file supervisor (real processes)."""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from osk8s_testing.testcloud import outputs
from osk8s_testing.testcloud.install import ENTRY_POINTS
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.passwords import load_or_create
from osk8s_testing.testcloud.procs import ProcessSpec, Supervisor
from osk8s_testing.testcloud.render import TEMPLATES, render_text
from osk8s_testing.testcloud.services import nova
from osk8s_testing.testcloud.services.base import Ctx
from osk8s_testing.testcloud.services.catalog import UnknownService, expand
from osk8s_testing.testcloud.steps import Progress, TestcloudError, wait_until_answers


def test_render_fills_placeholders_and_leaves_oslo_interpolation_alone() -> None:
    text = "a = {{x}}\nb = $state_path/{{y}}\n"
    assert render_text(text, {"x": 1, "y": "z"}) == "a = 1\nb = $state_path/z\n"


def test_render_refuses_a_placeholder_without_value() -> None:
    with pytest.raises(KeyError, match="missing"):
        render_text("{{missing}}", {})


def test_fast_set_expands_with_infrastructure_in_start_order() -> None:
    names = [s.name for s in expand(["fast"])]
    assert names == [
        "epmd",
        "rabbitmq",
        "mariadb",
        "keystone",
        "barbican",
        "neutron",
        "octavia",
        "cinder",
    ]


def test_octavia_alone_pulls_in_what_it_needs() -> None:
    names = [s.name for s in expand(["octavia"])]
    # Barbican: TLS listener certificates are read from it.
    assert names == ["epmd", "rabbitmq", "mariadb", "keystone", "barbican", "neutron", "octavia"]


def test_nova_runs_one_compute_per_zone_host_each_with_its_own_identity(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    ctx = Ctx(layout=layout, passwords=load_or_create(tmp_path / "s.json"), selected=frozenset())
    specs = nova.SERVICE.processes(ctx)
    computes = [s for s in specs if s.name.startswith("nova-compute")]
    assert len(computes) == len(nova.COMPUTE_ZONES) == 2
    assert sorted(set(nova.COMPUTE_ZONES.values())) == ["az-1", "az-2"]
    # The extra host's override (host name, state_path for its node identity) comes last.
    (extra,) = [s for s in computes if s.name != "nova-compute"]
    override = Path(extra.argv[-1])
    assert extra.argv[-2] == "--config-file"
    nova._write_host_override(ctx, "osk8s-2")
    text = override.read_text()
    assert "host = osk8s-2" in text
    assert f"state_path = {layout.data('nova') / 'hosts' / 'osk8s-2'}" in text
    assert (layout.data("nova") / "hosts" / "osk8s-2" / "instances").is_dir()


def test_neutron_and_octavia_templates_load_the_new_plugins() -> None:
    neutron = (TEMPLATES / "neutron.conf").read_text()
    assert "service_plugins = router,trunk,osk8s_fip_status" in neutron
    assert "osk8s_fip_status = " in ENTRY_POINTS
    octavia = (TEMPLATES / "octavia.conf").read_text()
    assert "cert_manager = barbican_cert_manager" in octavia


def test_keystone_alone_needs_no_database_server() -> None:
    assert [s.name for s in expand(["keystone"])] == ["keystone"]


def test_unknown_services_are_refused() -> None:
    with pytest.raises(UnknownService, match="known:"):
        expand(["nosuch"])


def test_all_set_adds_nova_and_manila_after_their_dependencies() -> None:
    names = [s.name for s in expand(["all"])]
    assert names[:3] == ["epmd", "rabbitmq", "mariadb"]
    assert set(names) >= {"placement", "glance", "nova", "manila", "octavia", "cinder"}
    for before, after in [("placement", "nova"), ("glance", "nova"), ("neutron", "nova")]:
        assert names.index(before) < names.index(after)


def test_dir_resolution_prefers_flag_then_env(tmp_path: Path) -> None:
    assert resolve_dir(str(tmp_path / "a"), {"OSK8S_TESTCLOUD_DIR": "/x"}) == tmp_path / "a"
    assert resolve_dir(None, {"OSK8S_TESTCLOUD_DIR": str(tmp_path)}) == tmp_path
    assert resolve_dir(None, {}).name == ".testcloud"


def test_passwords_are_made_once_private_and_redacted(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = load_or_create(path)
    second = load_or_create(path)
    assert first == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.admin.reveal() not in repr(first)
    assert len(json.loads(path.read_text())) == 5


def test_outputs_hold_both_clouds_and_cpo_sections(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    passwords = load_or_create(tmp_path / "secrets.json")
    state = {
        "identity": {"demo_project_id": "p1"},
        "network": {
            "network_id": "n1",
            "subnet_id": "s1",
            "floating_network_id": "f1",
            "floating_subnet_id": "fs1",
        },
    }
    outputs.write_all(
        layout=layout, passwords=passwords, state=state, selected=frozenset({"octavia", "cinder"})
    )
    clouds = yaml.safe_load(layout.clouds_yaml.read_text())["clouds"]
    assert clouds["osk8s-demo"]["auth"]["password"] == passwords.demo.reveal()
    assert clouds["osk8s-admin"]["auth"]["project_name"] == "admin"
    conf = layout.cloud_conf.read_text()
    assert "[LoadBalancer]\nlb-provider = amphora\nnetwork-id = n1\nsubnet-id = s1\n" in conf
    assert "floating-network-id = f1" in conf
    assert "tenant-id = p1" in conf
    assert "[BlockStorage]" in conf
    for path in (layout.clouds_yaml, layout.cloud_conf, layout.env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cloud_conf_without_octavia_has_no_loadbalancer_section(tmp_path: Path) -> None:
    passwords = load_or_create(tmp_path / "secrets.json")
    conf = outputs.cloud_conf(passwords, {}, frozenset({"keystone"}))
    assert conf.startswith("[Global]\n")
    assert "[LoadBalancer]" not in conf
    assert "[BlockStorage]" not in conf


def test_progress_times_steps_with_an_injected_clock() -> None:
    now = [100.0]
    out = io.StringIO()
    progress = Progress(out=out, clock=lambda: now[0])
    with progress.step("keystone: setup"):
        now[0] += 12.5
    assert progress.timings == [("keystone: setup", 12.5)]
    assert "[  12.5s] keystone: setup: done in 12.5s" in out.getvalue()
    assert progress.summary().splitlines()[-1].split() == ["total", "12.5s"]


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)  # an auth-protected API still counts as answering
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_wait_returns_once_http_answers(http_server: str, tmp_path: Path) -> None:
    wait_until_answers(http_server, alive=lambda: True, timeout=5, what="x", log=tmp_path / "l")


def test_wait_fails_fast_when_the_process_died(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("boom: config missing\n")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TestcloudError, match="exited before answering") as err:
        wait_until_answers(
            f"tcp://127.0.0.1:{port}", alive=lambda: False, timeout=30, what="svc", log=log
        )
    assert "boom: config missing" in str(err.value)


def test_wait_times_out_with_an_injected_clock(tmp_path: Path) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TestcloudError, match="within 3s"):
        wait_until_answers(
            f"tcp://127.0.0.1:{port}",
            alive=lambda: True,
            timeout=3,
            what="svc",
            log=tmp_path / "l",
            sleep=sleep,
            clock=lambda: now[0],
        )


def _child_pids(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(c) for c in children}


def test_supervisor_starts_once_and_stops_the_whole_group(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make_dirs()
    sup = Supervisor(layout=layout)
    # A parent that forks a child, like gunicorn's master and worker.
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    spec = ProcessSpec(name="demo-proc", argv=(sys.executable, "-c", script), env=dict(os.environ))
    pid = sup.start(spec)
    assert sup.start(spec) == pid  # idempotent: already running
    assert sup.recorded() == ["demo-proc"]
    deadline = 50
    while not _child_pids(pid) and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    child = next(iter(_child_pids(pid)))
    assert sup.stop("demo-proc", timeout=5) is True
    assert sup.pid("demo-proc") is None
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()
    assert sup.recorded() == []
    assert sup.stop("demo-proc") is False


def test_supervisor_ignores_a_recycled_pid(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.make_dirs()
    # Our own pid with a start time that is not ours: must not be taken for the service.
    (layout.run / "ghost.pid").write_text(f"{os.getpid()} 1\n")
    sup = Supervisor(layout=layout)
    assert sup.pid("ghost") is None
    assert sup.stop("ghost") is False
    assert not (layout.run / "ghost.pid").exists()
