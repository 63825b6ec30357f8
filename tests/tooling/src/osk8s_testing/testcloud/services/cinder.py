"""Cinder: API + scheduler + volume on MariaDB with the in-tree fake driver (plus extend and
create-from-image).

Backend ``fake`` on host ``osk8s``; volumes, attachments, snapshots, extend and volumes from
images (bootable, with ``volume_image_metadata``) succeed without storage. Its three processes
share one database, which SQLite cannot take. The v3 attachments API asks Nova about
instances, so that path needs ``nova`` too.
"""

from __future__ import annotations

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


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("cinder") / "cinder.conf")


def _configure(ctx: Ctx) -> None:
    data = ctx.layout.data("cinder")
    (data / "lock").mkdir(parents=True, exist_ok=True)
    values = {
        "transport_url": ctx.transport_url,
        "data": data,
        "database": mariadb.url(ctx, "cinder"),
        "region": REGION,
        "paste": ctx.layout.venv / "etc" / "cinder" / "api-paste.ini",
        # Without it the API refuses every list filter, e.g. the by-name lookup CPO's CSI does.
        "filters": ctx.layout.venv / "etc" / "cinder" / "resource_filters.json",
        "authtoken": ctx.authtoken("cinder"),
        "service_auth": ctx.service_auth("cinder"),
    }
    render_to("cinder.conf", ctx.layout.etc("cinder") / "cinder.conf", values)


def _setup(ctx: Ctx) -> None:
    mariadb.create_database(ctx, "cinder", "cinder")
    ctx.run("cinder", ctx.venv_bin("cinder-manage"), "--config-file", _conf(ctx), "db", "sync")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    conf = _conf(ctx)
    return [
        ctx.gunicorn(
            "cinder-api",
            "cinder.wsgi.api:application",
            port=PORTS["cinder"],
            argv=f"--config-file {conf}",
        ),
        ctx.daemon("cinder-scheduler", ctx.venv_bin("cinder-scheduler"), "--config-file", conf),
        ctx.daemon("cinder-volume", ctx.venv_bin("cinder-volume"), "--config-file", conf),
    ]


SERVICE = Service(
    name="cinder",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:8776/",
    catalog=(
        CatalogEntry("cinderv3", "block-storage", "/v3/$(project_id)s"),
        CatalogEntry("cinder", "volumev3", "/v3/$(project_id)s"),
    ),
    service_user="cinder",
    requires=("keystone", "rabbitmq", "mariadb"),
)
