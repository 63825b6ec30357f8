"""Octavia: API + worker, amphora provider with noop amphorae, VIPs as real Neutron ports.

Network driver is Octavia's allowed_address_pairs against the local Neutron, compute driver
is our ``osk8s_compute`` (noop amphorae that plug real ports). The API and the worker share a
MariaDB database (on SQLite they collide); an openssl CA backs the amphora cert flow. TLS
listener certificates are read from Barbican (``barbican_cert_manager``), not faked.
"""

from __future__ import annotations

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services import mariadb
from osk8s_testing.testcloud.services.base import PORTS, CatalogEntry, Ctx, Service


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("octavia") / "octavia.conf")


def _configure(ctx: Ctx) -> None:
    etc, data = ctx.layout.etc("octavia"), ctx.layout.data("octavia")
    (data / "lock").mkdir(parents=True, exist_ok=True)
    values = {
        "transport_url": ctx.transport_url,
        "port": PORTS["octavia"],
        "data": data,
        "database": mariadb.url(ctx, "octavia"),
        "etc": etc,
        "region": "RegionOne",
        "ca_pass": ctx.passwords.octavia_ca.reveal(),
        "service_auth": ctx.service_auth("octavia"),
        "authtoken": ctx.authtoken("octavia"),
    }
    render_to("octavia.conf", etc / "octavia.conf", values)


def _make_ca(ctx: Ctx) -> None:
    ca = ctx.layout.etc("octavia") / "ca"
    ca.mkdir(parents=True, exist_ok=True)
    # The passphrase travels through the environment, not argv (argv goes to the log).
    env = {"OSK8S_CA_PASS": ctx.passwords.octavia_ca.reveal()}
    key, cert = str(ca / "ca.key"), str(ca / "ca.pem")
    ctx.run(
        "octavia",
        "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-aes256", "-pass", "env:OSK8S_CA_PASS", "-out", key,
        env=env,
    )  # fmt: skip
    ctx.run(
        "octavia",
        "openssl", "req", "-x509", "-new", "-key", key, "-passin", "env:OSK8S_CA_PASS",
        "-subj", "/CN=osk8s-testcloud-octavia-ca", "-days", "3650", "-out", cert,
        env=env,
    )  # fmt: skip


def _setup(ctx: Ctx) -> None:
    _make_ca(ctx)
    mariadb.create_database(ctx, "octavia", "octavia")
    manage = ctx.venv_bin("octavia-db-manage")
    ctx.run("octavia", manage, "--config-file", _conf(ctx), "upgrade", "head")


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    conf = _conf(ctx)
    return [
        ctx.gunicorn(
            "octavia-api",
            "octavia.wsgi.api:application",
            port=PORTS["octavia"],
            argv=f"--config-file {conf}",
        ),
        ctx.daemon("octavia-worker", ctx.venv_bin("octavia-worker"), "--config-file", conf),
    ]


SERVICE = Service(
    name="octavia",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:9876/",
    catalog=(CatalogEntry("octavia", "load-balancer"),),
    service_user="octavia",
    # Barbican holds the certificates of TLS (TERMINATED_HTTPS) listeners.
    requires=("keystone", "rabbitmq", "mariadb", "neutron", "barbican"),
)
