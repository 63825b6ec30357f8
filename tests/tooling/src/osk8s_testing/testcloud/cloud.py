"""Bring the test cloud up, tear it down, report its status: the steps in order, with timings.

``up`` is idempotent: setup runs once per data dir (mark files), running processes are kept,
Keystone registration and the network topology are redone only when the state file lacks them.
``down`` stops by pid only what ``up`` recorded. Nothing here knows a service's config.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

from osk8s_testing.testcloud import boot, install, outputs
from osk8s_testing.testcloud.layout import Layout
from osk8s_testing.testcloud.passwords import load_or_create
from osk8s_testing.testcloud.procs import Supervisor
from osk8s_testing.testcloud.services import nova
from osk8s_testing.testcloud.services.base import HOST, PORTS, REGION, SETUP_MARK, Ctx, Service
from osk8s_testing.testcloud.services.catalog import expand
from osk8s_testing.testcloud.steps import Progress, TestcloudError, run, wait_until_answers

BOOTSTRAP = "osk8s_testcloud_plugins.bootstrap"
DEMO_ROLES = ["member", "reader", "creator", "load-balancer_member"]
NETWORK = {
    # Documentation ranges (RFC 5737): they exist only as Neutron records, no traffic goes there.
    "tenant_network": "osk8s-net",
    "tenant_subnet": "osk8s-subnet",
    "tenant_cidr": "192.0.2.0/24",
    # Neutron hands out addresses only from this pool, at random. Tests that need a fixed
    # address take one above it (TENANT_RESERVED_IPS), so a port another test creates at the
    # same time can never be given it first.
    "tenant_pool": {"start": "192.0.2.2", "end": "192.0.2.199"},
    "public_network": "osk8s-public",
    "public_subnet": "osk8s-public-subnet",
    "public_cidr": "203.0.113.0/24",
    "router": "osk8s-router",
}
# In the tenant subnet, outside its allocation pool: only a test that names one gets it.
TENANT_RESERVED_IPS = tuple(f"192.0.2.{host}" for host in range(200, 250))


def _load_state(layout: Layout) -> dict[str, Any]:
    if layout.state_file.exists():
        state: dict[str, Any] = json.loads(layout.state_file.read_text())
        return state
    return {}


def _save_state(layout: Layout, state: dict[str, Any]) -> None:
    # Renamed into place: tests read the state file while an `up` may run (no half-read JSON).
    path = layout.state_file
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(temp, path)


def _start(ctx: Ctx, sup: Supervisor, svc: Service, progress: Progress) -> None:
    specs = svc.processes(ctx)
    names = [spec.name for spec in specs]
    running = [n for n in names if sup.pid(n) is not None]
    if svc.probe is None:
        raise TestcloudError(f"{svc.name} has no probe")
    log = sup.log_path(names[0])
    if not running and svc.shared_ok:
        try:
            wait_until_answers(svc.probe, alive=lambda: True, timeout=0, what=svc.name, log=log)
        except TestcloudError:
            pass
        else:
            progress.line(f"{svc.name}: already served on {svc.probe} by another process; using it")
            return
    if len(running) == len(names):
        progress.line(f"{svc.name}: already running ({', '.join(names)})")
        wait_until_answers(
            svc.probe, alive=lambda: True, timeout=svc.start_timeout, what=svc.name, log=log
        )
        return
    with progress.step(f"{svc.name}: start"):
        for spec in specs:
            sup.start(spec)

        def alive() -> bool:
            return all(sup.pid(n) is not None for n in names)

        wait_until_answers(
            svc.probe, alive=alive, timeout=svc.start_timeout, what=svc.name, log=log
        )


def _bootstrap(ctx: Ctx, phase: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one phase of the openstacksdk bootstrap plugin; the spec file holds passwords."""
    spec_path = ctx.layout.run / f"bootstrap-{phase}.json"
    out_path = ctx.layout.run / f"bootstrap-{phase}.out.json"
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    try:
        run(
            [ctx.venv_bin("python"), "-m", BOOTSTRAP, phase, str(spec_path), str(out_path)],
            log=ctx.layout.logs / f"bootstrap-{phase}.log",
            env=ctx.layout.child_env(),
        )
    finally:
        spec_path.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def _spec(ctx: Ctx, services: Sequence[Service]) -> dict[str, Any]:
    return {
        "auth_url": ctx.auth_url,
        "region": REGION,
        "admin_password": ctx.passwords.admin.reveal(),
        "service_password": ctx.passwords.service.reveal(),
        "service_users": sorted({s.service_user for s in services if s.service_user}),
        "services": [
            {"name": e.name, "type": e.type, "url": ctx.url(s.name) + e.path}
            for s in services
            for e in s.catalog
        ],
        "demo": {
            "project": "demo",
            "user": "demo",
            "password": ctx.passwords.demo.reveal(),
            "roles": DEMO_ROLES,
        },
        "network": NETWORK,
        "compute_zones": nova.COMPUTE_ZONES,
        "flavor": boot.BOOT_FLAVOR,
        "image": boot.BOOT_IMAGE,
    }


def _install(layout: Layout, services: Sequence[Service], progress: Progress) -> None:
    apt = sorted({p for s in services for p in s.apt})
    with progress.step("debian packages"):
        added = install.ensure_packages(apt, log=layout.logs / "setup-apt.log")
        progress.line(f"installed {' '.join(added)}" if added else f"present: {' '.join(apt)}")
    with progress.step("openstack venv"):
        built = install.ensure_venv(layout, log=layout.logs / "setup-venv.log")
        install.sync_plugins(layout)
        progress.line("built from pinned requirements" if built else "up to date")


def _setup_once(ctx: Ctx, svc: Service, progress: Progress) -> None:
    svc.configure(ctx)
    mark = ctx.layout.data(svc.name) / SETUP_MARK
    if mark.exists():
        return
    with progress.step(f"{svc.name}: setup"):
        svc.setup(ctx)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()


def _register(ctx: Ctx, spec: dict[str, Any], state: dict[str, Any], progress: Progress) -> None:
    # Registered services accumulate: `up manila` after `up fast` keeps the others.
    have = set(state.get("registered", []))
    if ctx.selected <= have:
        return
    with progress.step("keystone: users, projects, catalog"):
        state["identity"] = _bootstrap(ctx, "identity", spec)
        state["registered"] = sorted(have | ctx.selected)
        _save_state(ctx.layout, state)


def _finish(ctx: Ctx, spec: dict[str, Any], state: dict[str, Any], progress: Progress) -> None:
    """Steps that need several services running: topology, readiness, flavors, share type."""
    # A cloud recorded before the tenant pool was narrowed gets its topology converged again.
    recorded = state.get("network", {}).get("tenant_pool")
    if "neutron" in ctx.selected and recorded != NETWORK["tenant_pool"]:
        with progress.step("neutron: demo network, subnet, router, external network"):
            state["network"] = _bootstrap(ctx, "network", spec)
            _save_state(ctx.layout, state)
    if "cinder" in ctx.selected:
        with progress.step("cinder: volume service up"):
            _bootstrap(ctx, "cinder", spec)
    if "nova" in ctx.selected:
        with progress.step("nova: compute service up"):
            _bootstrap(ctx, "nova-compute", spec)
    discovered = False
    if "nova" in ctx.selected and "nova" not in state:
        with progress.step("nova: discover hosts, flavor, image"):
            nova.discover_hosts(ctx)
            discovered = True
            state["nova"] = _bootstrap(ctx, "nova", spec)
            _save_state(ctx.layout, state)
    if "nova" in ctx.selected and state.get("nova_zones") != nova.COMPUTE_ZONES:
        with progress.step("nova: availability zones (host aggregates)"):
            if not discovered:  # a data dir from before the second host existed
                nova.discover_hosts(ctx)
            pending = _bootstrap(ctx, "nova-zones", spec)["pending"]
            if pending:
                progress.line(
                    f"hosts with servers cannot change zone, next `up` retries: {pending}"
                )
            else:
                state["nova_zones"] = nova.COMPUTE_ZONES
                _save_state(ctx.layout, state)
    if "manila" in ctx.selected:
        with progress.step("manila: share service up, default share type"):
            state["manila"] = _bootstrap(ctx, "manila", spec)
            _save_state(ctx.layout, state)


def up(*, layout: Layout, names: Sequence[str], progress: Progress) -> None:
    services = expand(names)
    layout.make_dirs()
    ctx = Ctx(
        layout=layout,
        passwords=load_or_create(layout.secrets_file),
        selected=frozenset(s.name for s in services),
    )
    progress.line(f"test cloud in {layout.root}: {', '.join(s.name for s in services)}")
    sup = Supervisor(layout=layout)
    state = _load_state(layout)
    _install(layout, services, progress)
    spec = _spec(ctx, services)
    for svc in services:
        _setup_once(ctx, svc, progress)
        _start(ctx, sup, svc, progress)
        if svc.name == "keystone":
            _register(ctx, spec, state, progress)
    _finish(ctx, spec, state, progress)
    with progress.step("write clouds.yaml, cloud.conf, env"):
        registered = frozenset(state.get("registered", ctx.selected))
        outputs.write_all(layout=layout, passwords=ctx.passwords, state=state, selected=registered)
    progress.line(f"clouds.yaml: {layout.clouds_yaml}")
    progress.line(f"cloud.conf:  {layout.cloud_conf}")
    progress.line(f"env:         {layout.env_file}  (source it; OS_CLOUD=osk8s-demo)")


def _belongs(process: str, services: Sequence[str]) -> bool:
    return not services or any(process == s or process.startswith(f"{s}-") for s in services)


def down(
    *, layout: Layout, progress: Progress, services: Sequence[str] = (), wipe: bool = False
) -> None:
    """Stop the recorded processes (of ``services`` only, if given) in reverse start order."""
    sup = Supervisor(layout=layout)
    if layout.run.exists():
        names = [n for n in sup.recorded() if _belongs(n, services)]
        stopped = sup.stop_many(names)
        for name in names:
            progress.line(f"{name}: {'stopped' if name in stopped else 'was not running'}")
    if wipe and not services and layout.root.exists():
        # Keep the venv: rebuilding it is the one slow step that does not depend on state.
        for child in layout.root.iterdir():
            if child != layout.venv:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        progress.line(f"wiped {layout.root} (kept venv)")


def status(*, layout: Layout) -> list[tuple[str, str, str]]:
    """(process, pid or 'stopped', listening address) for every recorded process."""
    sup = Supervisor(layout=layout)
    rows: list[tuple[str, str, str]] = []
    if not layout.run.exists():
        return rows
    for name in sup.recorded():
        pid = sup.pid(name)
        base = name.split("-")[0]
        port = PORTS.get(base)
        where = f"{HOST}:{port}" if port and name in (base, f"{base}-api") else "-"
        if name == "epmd":
            where = f"{HOST}:4369"
        rows.append((name, str(pid) if pid else "stopped", where))
    return rows
