"""Barbican on SQLite: simple_crypto with a random KEK, keystonemiddleware via its paste pipeline.

Barbican's plugins re-read oslo.config's *default* file locations, so the process runs with
HOME set to its etc dir, where ``barbican.conf`` is found as ``~/barbican.conf``. Its WSGI
script hard-codes /etc/barbican/...paste.ini, so our launcher loads a copy with ``paste:``.
"""

from __future__ import annotations

import shutil

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service, sqlite_wal

PASTE = "barbican-api-paste.ini"


def _configure(ctx: Ctx) -> None:
    etc, data = ctx.layout.etc("barbican"), ctx.layout.data("barbican")
    data.mkdir(parents=True, exist_ok=True)
    values = {
        "url": ctx.url("barbican"),
        "transport_url": ctx.transport_url,
        "data": data,
        "kek": ctx.passwords.barbican_kek.reveal(),
        "authtoken": ctx.authtoken("barbican"),
    }
    render_to("barbican.conf", etc / "barbican.conf", values)
    shutil.copyfile(ctx.layout.venv / "etc" / "barbican" / PASTE, etc / PASTE)


def _setup(ctx: Ctx) -> None:
    # Tables come from db_auto_create at first start; WAL must be on before that.
    sqlite_wal(ctx.layout.data("barbican") / "barbican.sqlite")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    etc = ctx.layout.etc("barbican")
    return [
        ctx.gunicorn(
            "barbican",
            f"paste:{etc / PASTE}#main",
            port=PORTS["barbican"],
            env={"HOME": str(etc)},
        )
    ]


SERVICE = Service(
    name="barbican",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:9311/",
    catalog=(CatalogEntry("barbican", "key-manager"),),
    service_user="barbican",
    requires=("keystone", "rabbitmq"),
)
