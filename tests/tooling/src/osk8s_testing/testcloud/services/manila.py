"""Manila: API + scheduler + share on MariaDB with the in-tree dummy driver (DHSS=False).

On SQLite its migrations deadlock and manila-share hits "database is locked", so it uses the
MariaDB server. Shares, access rules, export locations (fake), snapshots and extend succeed
without storage. The ``default`` share type is created by the bootstrap plugin with DevStack's
snapshot specs (snapshot, create-from-snapshot, revert, mountable snapshots), so snapshot and
clone paths run end to end.

What the dummy back end still lacks: no real export (``10.0.0.10:/path/to/fake/...`` cannot be
mounted); CEPHFS only as far as Manila CSI needs it (plugins/manila_cephfs.py: fake monitor
exports, cephx rules with fake keys; no Ceph behind it); DHSS=False only (no share
networks or share servers); no replication (no ``replication_domain``), no share groups type,
no migration setup; capacity is a fixed fake pool, so nothing fills up.
"""

from __future__ import annotations

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services import mariadb
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("manila") / "manila.conf")


def _configure(ctx: Ctx) -> None:
    data = ctx.layout.data("manila")
    (data / "lock").mkdir(parents=True, exist_ok=True)
    values = {
        "transport_url": ctx.transport_url,
        "data": data,
        "paste": ctx.layout.venv / "etc" / "manila" / "api-paste.ini",
        "database": mariadb.url(ctx, "manila"),
        "authtoken": ctx.authtoken("manila"),
    }
    render_to("manila.conf", ctx.layout.etc("manila") / "manila.conf", values)


# manila-scheduler and manila-share both create the default zone when they first register; started
# together they race on its unique key and manila-share dies with DBDuplicateEntry ('nova-False'
# for 'az_name_uc', seen in a clean-clone CI run). Creating the row once, before either starts,
# removes the race.
_DEFAULT_ZONE = (
    "INSERT INTO availability_zones (id, deleted, name, created_at) "
    "SELECT UUID(), 'False', 'nova', NOW() FROM DUAL WHERE NOT EXISTS "
    "(SELECT 1 FROM availability_zones WHERE name = 'nova' AND deleted = 'False')"
)


def _setup(ctx: Ctx) -> None:
    mariadb.create_database(ctx, "manila", "manila")
    ctx.run("manila", ctx.venv_bin("manila-manage"), "--config-file", _conf(ctx), "db", "sync")
    mariadb.execute(ctx, "manila", _DEFAULT_ZONE, database="manila")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    conf = _conf(ctx)
    return [
        ctx.gunicorn(
            "manila-api",
            "manila.wsgi.api:application",
            port=PORTS["manila"],
            argv=f"--config-file {conf}",
        ),
        ctx.daemon("manila-scheduler", ctx.venv_bin("manila-scheduler"), "--config-file", conf),
        ctx.daemon("manila-share", ctx.venv_bin("manila-share"), "--config-file", conf),
    ]


SERVICE = Service(
    name="manila",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:8786/",
    catalog=(
        CatalogEntry("manilav2", "sharev2", "/v2/$(project_id)s"),
        CatalogEntry("manila", "shared-file-system", "/v2/$(project_id)s"),
    ),
    service_user="manila",
    requires=("keystone", "rabbitmq", "mariadb"),
)
