"""Build a keystoneauth session and an openstacksdk ``Connection`` from ``AuthOptions``.

We build the session ourselves so openstacksdk never reads clouds.yaml or ``OS_*`` (CPO
disables auto-detection; the config loader is the one reader). TLS: CA file or inline CA
contents, client cert+key, insecure. User agent ``<component>/<version>`` plus extras. No
caching here (see ``factory``); openstacksdk is imported lazily, it is slow to import.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials.methods import build_auth_plugin
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.errors import CredentialsError

if TYPE_CHECKING:
    from keystoneauth1.session import Session
    from openstack.connection import Connection


@dataclass(frozen=True)
class ClientSettings:
    """What identifies this client to OpenStack, independent of the credentials."""

    component: str
    """Upstream binary name, e.g. ``openstack-cloud-controller-manager``."""
    version: str
    """Our version, the second half of ``<component>/<version>``."""
    user_agent_extras: tuple[str, ...] = ()
    """Extra User-Agent words (CPO ``--user-agent``, repeatable), in the order given."""
    timeout: float | None = 60.0
    """HTTP timeout in seconds for every call (OCCM: ``[Metadata] request-timeout``, default
    60 s as CPO). Never leave it unbounded in a service: a hung call would hang the caller."""

    @property
    def user_agent(self) -> str:
        """As CPO builds it: gophercloud's ``UserAgent.Prepend`` of ``<component>/<version>``,
        then of each extra in turn, so the last extra comes first and the base last."""
        return " ".join((*reversed(self.user_agent_extras), f"{self.component}/{self.version}"))


def tls_files_digest(auth: AuthOptions) -> str:
    """A digest of the CA/cert/key files' contents, so a rotated file changes the cache key."""
    digest = hashlib.sha256()
    for path in (auth.ca_file, auth.cert_file, auth.key_file):
        if path:
            digest.update(path.encode())
            try:
                digest.update(Path(path).read_bytes())
            except OSError:
                digest.update(b"\0missing")
    return digest.hexdigest()


def build_session(auth: AuthOptions, *, settings: ClientSettings, ca_store: CaFileStore) -> Session:
    """A keystoneauth ``Session`` with the auth plugin and TLS wiring for ``auth``."""
    from keystoneauth1.session import Session  # noqa: PLC0415 - lazy: keep imports cheap

    plugin = build_auth_plugin(auth)  # validates completeness first
    verify = _verify(auth, ca_store=ca_store)
    cert = None
    if auth.cert_file and auth.key_file:
        _require_file(auth.cert_file, "cert-file")
        _require_file(auth.key_file, "key-file")
        cert = (auth.cert_file, auth.key_file)
    return Session(
        auth=plugin,
        verify=verify,
        cert=cert,
        timeout=settings.timeout,
        user_agent=settings.user_agent,
    )


def build_connection(
    auth: AuthOptions, *, settings: ClientSettings, ca_store: CaFileStore
) -> Connection:
    """An openstacksdk ``Connection`` for ``auth``: region and interface from the options."""
    from openstack.connection import Connection  # noqa: PLC0415 - slow import, load on use

    session = build_session(auth, settings=settings, ca_store=ca_store)
    return Connection(
        session=session,
        region_name=auth.region,
        interface=auth.endpoint_type,
        app_name=settings.component,
        app_version=settings.version,
    )


def _verify(auth: AuthOptions, *, ca_store: CaFileStore) -> bool | str:
    if auth.tls_insecure:
        return False
    if auth.ca_data:  # inline contents (manila secrets) win over a path
        return ca_store.path_for(auth.ca_data)
    if auth.ca_file:
        _require_file(auth.ca_file, "ca-file")
        return auth.ca_file
    return True


def _require_file(path: str, key: str) -> None:
    if not Path(path).is_file():
        raise CredentialsError(f"{key} {path} does not exist or is not a file")
