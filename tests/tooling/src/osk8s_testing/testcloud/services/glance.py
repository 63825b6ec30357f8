"""Glance on SQLite with the file store under the data dir (images for Nova's fake boots).

Its WSGI app reads ``$OS_GLANCE_CONFIG_DIR/glance-api.conf``; paste comes from a copy of the
wheel's ini named in ``[paste_deploy]``.
"""

from __future__ import annotations

import shutil

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service, sqlite_wal

PASTE = "glance-api-paste.ini"


def _configure(ctx: Ctx) -> None:
    etc, data = ctx.layout.etc("glance"), ctx.layout.data("glance")
    for sub in ("images", "staging", "tasks", "lock"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ctx.layout.venv / "etc" / "glance" / PASTE, etc / PASTE)
    values = {
        "data": data,
        "paste": etc / PASTE,
        "transport_url": ctx.transport_url,
        "authtoken": ctx.authtoken("glance"),
    }
    render_to("glance-api.conf", etc / "glance-api.conf", values)


def _setup(ctx: Ctx) -> None:
    sqlite_wal(ctx.layout.data("glance") / "glance.sqlite")
    conf = str(ctx.layout.etc("glance") / "glance-api.conf")
    ctx.run("glance", ctx.venv_bin("glance-manage"), "--config-file", conf, "db_sync")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    env = {"OS_GLANCE_CONFIG_DIR": str(ctx.layout.etc("glance"))}
    return [ctx.gunicorn("glance", "glance.wsgi.api:application", port=PORTS["glance"], env=env)]


SERVICE = Service(
    name="glance",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:9292/",
    catalog=(CatalogEntry("glance", "image"),),
    service_user="glance",
    requires=("keystone",),
)
