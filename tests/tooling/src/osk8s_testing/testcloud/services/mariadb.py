"""MariaDB from Debian, run as our own server on 127.0.0.1 with data under the data dir.

Used by the services with several processes on one database (Cinder, Octavia; later Manila):
on SQLite their processes' transactions collide ("database is locked"). Clients connect over
the unix socket as root with socket authentication, so there is no database password at all.
"""

from __future__ import annotations

from pathlib import Path

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.services.base import HOST, PORTS, Ctx, Service

SERVER = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
CLIENT = "/usr/bin/mariadb"


def socket_path(ctx: Ctx) -> Path:
    return ctx.layout.data("mariadb") / "mysqld.sock"


def url(ctx: Ctx, database: str) -> str:
    """SQLAlchemy URL of ``database`` (pymysql over the unix socket)."""
    return f"mysql+pymysql://root@localhost/{database}?unix_socket={socket_path(ctx)}&charset=utf8"


def create_database(ctx: Ctx, service: str, database: str) -> None:
    execute(ctx, service, f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8")


def execute(ctx: Ctx, service: str, sql: str, *, database: str | None = None) -> None:
    """Run one SQL statement as root over the socket (``database``: the default schema)."""
    argv = [CLIENT, "--no-defaults", "-S", str(socket_path(ctx)), "-u", "root"]
    if database is not None:
        argv.append(database)
    ctx.run(service, *argv, "-e", sql)


def _setup(ctx: Ctx) -> None:
    data = ctx.layout.data("mariadb")
    data.mkdir(parents=True, exist_ok=True)
    ctx.run(
        "mariadb",
        INSTALL_DB,
        "--no-defaults",
        f"--datadir={data / 'db'}",
        "--user=root",
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
    )


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    data = ctx.layout.data("mariadb")
    return [
        ctx.daemon(
            "mariadb",
            SERVER,
            "--no-defaults",
            f"--datadir={data / 'db'}",
            f"--socket={socket_path(ctx)}",
            f"--pid-file={data / 'mariadbd.pid'}",
            f"--bind-address={HOST}",
            f"--port={PORTS['mariadb']}",
            "--user=root",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--character-set-server=utf8",
            "--collation-server=utf8_general_ci",
            "--max-connections=500",
            # A test cloud: durability is not worth fsyncs.
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=128M",
            "--innodb-log-file-size=48M",
        )
    ]


SERVICE = Service(
    name="mariadb",
    setup=_setup,
    processes=_processes,
    probe=f"tcp://{HOST}:{PORTS['mariadb']}",
    apt=("mariadb-server",),
    start_timeout=60,
)
