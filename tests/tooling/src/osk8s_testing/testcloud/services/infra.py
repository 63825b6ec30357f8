"""RabbitMQ (with its own epmd) from Debian, run as our own node on 127.0.0.1.

Not the Debian system service: our node keeps its data and logs under the data dir, listens on
loopback only and is stopped by pid with everything else. MariaDB is in ``mariadb.py``.
"""

from __future__ import annotations

import shutil

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.services.base import HOST, PORTS, Ctx, Service

EPMD_PORT = 4369
DIST_PORT = 25672
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _epmd(ctx: Ctx) -> list[ProcessSpec]:
    epmd = shutil.which("epmd") or "/usr/bin/epmd"
    return [ctx.daemon("epmd", epmd, "-address", HOST, "-port", str(EPMD_PORT))]


def _rabbit_configure(ctx: Ctx) -> None:
    etc = ctx.layout.etc("rabbitmq")
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "enabled_plugins").write_text("[].\n")
    (etc / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {HOST}:{PORTS['rabbitmq']}\n"
        "loopback_users.guest = true\n"
        f"distribution.listener.interface = {HOST}\n"
        f"distribution.listener.port_range.min = {DIST_PORT}\n"
        f"distribution.listener.port_range.max = {DIST_PORT}\n"
        "log.console = true\n"
        "log.file = false\n"
    )


def _rabbit(ctx: Ctx) -> list[ProcessSpec]:
    etc = ctx.layout.etc("rabbitmq")
    data = ctx.layout.data("rabbitmq")
    data.mkdir(parents=True, exist_ok=True)
    env = {
        # HOME holds the Erlang cookie; keep it out of root's real home.
        "HOME": str(data),
        "RABBITMQ_NODENAME": "osk8s@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(DIST_PORT),
        "RABBITMQ_CONFIG_FILE": str(etc / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(etc / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(data / "mnesia"),
        "RABBITMQ_LOG_BASE": str(ctx.layout.logs / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(data / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(EPMD_PORT),
    }
    return [ctx.daemon("rabbitmq", RABBIT_SERVER, env=env)]


EPMD = Service(
    name="epmd",
    setup=lambda ctx: None,
    processes=_epmd,
    probe=f"tcp://{HOST}:{EPMD_PORT}",
    apt=("rabbitmq-server",),
    shared_ok=True,
    start_timeout=30,
)

RABBITMQ = Service(
    name="rabbitmq",
    setup=lambda ctx: None,
    configure=_rabbit_configure,
    processes=_rabbit,
    probe=f"tcp://{HOST}:{PORTS['rabbitmq']}",
    apt=("rabbitmq-server",),
    requires=("epmd",),
    start_timeout=90,
)
