"""What a test-cloud service is (``Service``) and what its steps get to work with (``Ctx``).

Service modules build config files and commands from a ``Ctx``; they never start processes
themselves (the bring-up does, through the supervisor) and never print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from osk8s_testing.testcloud import steps
from osk8s_testing.testcloud.layout import Layout
from osk8s_testing.testcloud.passwords import Passwords
from osk8s_testing.testcloud.procs import ProcessSpec

HOST = "127.0.0.1"
REGION = "RegionOne"
PORTS: Mapping[str, int] = {
    "rabbitmq": 5672,
    "mariadb": 3306,
    "keystone": 5000,
    "barbican": 9311,
    "placement": 8778,
    "glance": 9292,
    "neutron": 9696,
    "octavia": 9876,
    "cinder": 8776,
    "nova": 8774,
    "manila": 8786,
}
SETUP_MARK = ".setup-done"


@dataclass(frozen=True)
class Ctx:
    """Everything a service's steps need: paths, passwords, which services are selected."""

    layout: Layout
    passwords: Passwords
    selected: frozenset[str]

    def url(self, service: str) -> str:
        return f"http://{HOST}:{PORTS[service]}"

    @property
    def auth_url(self) -> str:
        return f"{self.url('keystone')}/v3"

    @property
    def transport_url(self) -> str:
        # RabbitMQ's guest user may connect from loopback only, which is all we use.
        return f"rabbit://guest:guest@{HOST}:{PORTS['rabbitmq']}/"

    def setup_log(self, service: str) -> Path:
        return self.layout.logs / f"setup-{service}.log"

    def run(self, service: str, *argv: str, env: Mapping[str, str] | None = None) -> None:
        """Run a setup command of ``service`` from the OpenStack venv (output to its log)."""
        full_env = {**self.layout.child_env(), **(env or {})}
        steps.run(argv, log=self.setup_log(service), env=full_env)

    def run_status(self, service: str, *argv: str) -> int:
        """Like ``run`` but returns the exit code instead of raising."""
        return steps.run(
            argv, log=self.setup_log(service), env=self.layout.child_env(), check=False
        )

    def venv_bin(self, name: str) -> str:
        return str(self.layout.bin(name))

    def service_auth(self, user: str) -> str:
        """keystoneauth password options for ``user`` in project ``service`` (INI lines)."""
        return "\n".join(
            [
                "auth_type = password",
                f"auth_url = {self.auth_url}",
                f"username = {user}",
                f"password = {self.passwords.service.reveal()}",
                "project_name = service",
                "user_domain_name = Default",
                "project_domain_name = Default",
                f"region_name = {REGION}",
            ]
        )

    def authtoken(self, user: str) -> str:
        """A ``[keystone_authtoken]`` section validating tokens as ``user``."""
        return "\n".join(
            [
                "[keystone_authtoken]",
                f"www_authenticate_uri = {self.auth_url}",
                "memcached_servers =",
                self.service_auth(user),
            ]
        )

    def gunicorn(
        self,
        name: str,
        app: str,
        *,
        port: int,
        argv: str = "",
        env: Mapping[str, str] | None = None,
        threads: int = 1,
    ) -> ProcessSpec:
        """An API process: gunicorn on 127.0.0.1 loading ``app`` through our launcher shim.

        One thread by default: with several, two requests of one process interleave a read
        and a write on the same SQLite file and one fails with "database is locked" (seen
        in Keystone and Neutron); the test cloud's load does not need more.
        """
        wsgi_env = {
            **self.layout.child_env(),
            "OSK8S_WSGI_APP": app,
            "OSK8S_WSGI_ARGV": argv,
            "OSK8S_WSGI_PROG": name,
            **(env or {}),
        }
        return ProcessSpec(
            name=name,
            argv=(
                self.venv_bin("gunicorn"),
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                "1",
                "--threads",
                str(threads),
                "--timeout",
                "300",
                "--graceful-timeout",
                "5",
                "--name",
                name,
                # Else every master shares one socket in root's home, outside the data dir.
                "--no-control-socket",
                "osk8s_testcloud_plugins.wsgi_app:application",
            ),
            env=wsgi_env,
        )

    def daemon(self, name: str, *argv: str, env: Mapping[str, str] | None = None) -> ProcessSpec:
        return ProcessSpec(name=name, argv=argv, env={**self.layout.child_env(), **(env or {})})


@dataclass(frozen=True)
class CatalogEntry:
    """A Keystone service + endpoints for one API."""

    name: str
    type: str
    path: str = ""
    """Appended to the service's base URL (e.g. ``/v3`` or ``/v2.1``)."""


@dataclass(frozen=True)
class Service:
    """One OpenStack (or infrastructure) service of the test cloud."""

    name: str
    setup: Callable[[Ctx], None]
    """Create config + database; runs once per data dir (a mark file records it)."""
    processes: Callable[[Ctx], list[ProcessSpec]]
    probe: str | None
    """URL (http://... or tcp://host:port) that answers once the service is up."""
    configure: Callable[[Ctx], None] = lambda ctx: None
    """Render config files; runs on every ``up`` (cheap, keeps configs in step with code)."""
    catalog: tuple[CatalogEntry, ...] = ()
    service_user: str | None = None
    apt: tuple[str, ...] = ()
    requires: tuple[str, ...] = field(default=())
    """Other services that must be selected too (they start first)."""
    shared_ok: bool = False
    """If the port already answers from a process we did not start, use it (epmd)."""
    start_timeout: float = 180.0


def sqlite_wal(path: Path) -> None:
    """Switch a SQLite database to WAL (persists in the file): avoids "database is locked"."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
