"""Placement on SQLite (one process), needed by Nova's scheduler and compute.

Its WSGI app reads ``$OS_PLACEMENT_CONFIG_DIR/placement.conf``; the schema comes from
``placement-manage db sync``.
"""

from __future__ import annotations

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service, sqlite_wal


def _configure(ctx: Ctx) -> None:
    data = ctx.layout.data("placement")
    data.mkdir(parents=True, exist_ok=True)
    values = {"data": data, "authtoken": ctx.authtoken("placement")}
    render_to("placement.conf", ctx.layout.etc("placement") / "placement.conf", values)


def _setup(ctx: Ctx) -> None:
    sqlite_wal(ctx.layout.data("placement") / "placement.sqlite")
    conf = str(ctx.layout.etc("placement") / "placement.conf")
    ctx.run("placement", ctx.venv_bin("placement-manage"), "--config-file", conf, "db", "sync")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    env = {"OS_PLACEMENT_CONFIG_DIR": str(ctx.layout.etc("placement"))}
    return [
        ctx.gunicorn(
            "placement", "placement.wsgi.api:application", port=PORTS["placement"], env=env
        )
    ]


SERVICE = Service(
    name="placement",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:8778/",
    catalog=(CatalogEntry("placement", "placement"),),
    service_user="placement",
    requires=("keystone",),
)
