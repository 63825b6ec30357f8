"""Neutron API (ML2 flat/vlan/vxlan, router, port security) on SQLite, with no agents.

Its alembic migrations cannot ALTER constraints on SQLite, so tables come from the models
(``plugins.dbinit``) and alembic is stamped at heads. Ports are bound by our ``osk8s_bind``
ML2 driver; there is no data plane (no DHCP, no namespaces).
"""

from __future__ import annotations

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service, sqlite_wal


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("neutron") / "neutron.conf")


def _configure(ctx: Ctx) -> None:
    data = ctx.layout.data("neutron")
    (data / "lock").mkdir(parents=True, exist_ok=True)
    values = {
        "transport_url": ctx.transport_url,
        "data": data,
        "paste": ctx.layout.venv / "etc" / "neutron" / "api-paste.ini",
        "notify_nova": str("nova" in ctx.selected).lower(),
        "authtoken": ctx.authtoken("neutron"),
        "service_auth": ctx.service_auth("nova"),
    }
    render_to("neutron.conf", ctx.layout.etc("neutron") / "neutron.conf", values)


def _setup(ctx: Ctx) -> None:
    db = ctx.layout.data("neutron") / "neutron.sqlite"
    sqlite_wal(db)
    py = ctx.venv_bin("python")
    ctx.run("neutron", py, "-m", "osk8s_testcloud_plugins.dbinit", "neutron", f"sqlite:///{db}")
    ctx.run(
        "neutron", ctx.venv_bin("neutron-db-manage"), "--config-file", _conf(ctx), "stamp", "heads"
    )


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    return [
        ctx.gunicorn(
            "neutron",
            "neutron.wsgi.api:application",
            port=PORTS["neutron"],
            argv=f"--config-file {_conf(ctx)}",
        )
    ]


SERVICE = Service(
    name="neutron",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:9696/",
    catalog=(CatalogEntry("neutron", "network"),),
    service_user="neutron",
    requires=("keystone", "rabbitmq"),
)
