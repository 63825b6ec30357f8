"""Nova: API + conductor + scheduler + compute (fake driver), cells v2 on MariaDB.

Its processes share the API and cell databases, so they live on the MariaDB server. Setup
maps cell0 and creates cell1; the bring-up discovers the compute hosts once they report up (the
periodic discovery is off). The API reads ``api-paste.ini;nova.conf`` from its config dir,
paste first, as nova expects.

Two fake compute hosts (``COMPUTE_ZONES``) run, each its own nova-compute with its own host
name and node identity; the bring-up puts each in a host aggregate that is an availability
zone, so zone labels and failure domains can be tested.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services import mariadb
from osk8s_testing.testcloud.services.base import (
    PORTS,
    REGION,
    CatalogEntry,
    Ctx,
    Service,
)

DATABASES = ("nova_api", "nova_cell0", "nova")
# Compute host -> availability zone. The first host keeps nova.conf's ``host``; every other one
# gets an override file with its own host name and state (its node identity lives there).
COMPUTE_ZONES = {"osk8s": "az-1", "osk8s-2": "az-2"}
FIRST_HOST = "osk8s"


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("nova") / "nova.conf")


def _configure(ctx: Ctx) -> None:
    etc, data = ctx.layout.etc("nova"), ctx.layout.data("nova")
    for sub in ("instances", "lock"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ctx.layout.venv / "etc" / "nova" / "api-paste.ini", etc / "api-paste.ini")
    values = {
        "transport_url": ctx.transport_url,
        "data": data,
        "etc": etc,
        "region": REGION,
        "api_db": mariadb.url(ctx, "nova_api"),
        "cell1_db": mariadb.url(ctx, "nova"),
        "service_auth": ctx.service_auth("nova"),
        "authtoken": ctx.authtoken("nova"),
    }
    render_to("nova.conf", etc / "nova.conf", values)
    for host in COMPUTE_ZONES:
        if host != FIRST_HOST:
            _write_host_override(ctx, host)


def _extra_host_dir(ctx: Ctx, host: str) -> Path:
    return ctx.layout.data("nova") / "hosts" / host


def _host_override(ctx: Ctx, host: str) -> Path:
    return ctx.layout.etc("nova") / f"compute-{host}.conf"


def _write_host_override(ctx: Ctx, host: str) -> None:
    state = _extra_host_dir(ctx, host)
    for sub in ("instances", "lock"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    override = _host_override(ctx, host)
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(
        "# Second fake compute host (rendered by osk8s-testcloud; edits are overwritten).\n"
        "[DEFAULT]\n"
        f"host = {host}\n"
        f"state_path = {state}\n"
        f"instances_path = {state / 'instances'}\n"
        "[oslo_concurrency]\n"
        f"lock_path = {state / 'lock'}\n"
    )


def _setup(ctx: Ctx) -> None:
    for db in DATABASES:
        mariadb.create_database(ctx, "nova", db)
    manage = (ctx.venv_bin("nova-manage"), "--config-file", _conf(ctx))
    ctx.run("nova", *manage, "api_db", "sync")
    cell0 = mariadb.url(ctx, "nova_cell0")
    ctx.run("nova", *manage, "cell_v2", "map_cell0", "--database_connection", cell0)
    # create_cell exits 2 when the cell exists already (a setup re-run): not an error.
    code = ctx.run_status("nova", *manage, "cell_v2", "create_cell", "--name", "cell1")
    if code not in (0, 2):
        ctx.run("nova", *manage, "cell_v2", "create_cell", "--name", "cell1")
    ctx.run("nova", *manage, "db", "sync")


def discover_hosts(ctx: Ctx) -> None:
    ctx.run("nova", ctx.venv_bin("nova-manage"), "--config-file", _conf(ctx), "cell_v2",
            "discover_hosts")  # fmt: skip


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    conf = _conf(ctx)
    env = {"OS_NOVA_CONFIG_DIR": str(ctx.layout.etc("nova"))}
    return [
        ctx.gunicorn(
            "nova-api", "nova.wsgi.osapi_compute:application", port=PORTS["nova"], env=env
        ),
        ctx.daemon("nova-conductor", ctx.venv_bin("nova-conductor"), "--config-file", conf),
        ctx.daemon("nova-scheduler", ctx.venv_bin("nova-scheduler"), "--config-file", conf),
        ctx.daemon("nova-compute", ctx.venv_bin("nova-compute"), "--config-file", conf),
        *(
            ctx.daemon(
                f"nova-compute-{host}",
                ctx.venv_bin("nova-compute"),
                "--config-file",
                conf,
                "--config-file",
                str(_host_override(ctx, host)),
            )
            for host in COMPUTE_ZONES
            if host != FIRST_HOST
        ),
    ]


SERVICE = Service(
    name="nova",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:8774/",
    catalog=(CatalogEntry("nova", "compute", "/v2.1"),),
    service_user="nova",
    requires=("keystone", "rabbitmq", "mariadb", "placement", "glance", "neutron"),
)
