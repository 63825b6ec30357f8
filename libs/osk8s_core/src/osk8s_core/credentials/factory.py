"""Connections cached per credential set, and rebuilt when the credential files change.

``ConnectionCache`` keys connections by (``AuthOptions``, TLS file digest): secrets take part
in the key through ``SecretStr``'s value hash but print as ``***``. ``ConnectionFactory`` owns
the cloud.conf paths: each ``get()`` stats the files it read (cheap) and, when one changed,
reloads the config and hands out a new connection if the credentials differ (rotation without
restart). A failed reload keeps the last good connection. It never logs a secret.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.loader import LoadResult, load_cloud_config
from osk8s_core.credentials.connection import (
    ClientSettings,
    build_connection,
    tls_files_digest,
)
from osk8s_core.credentials.tls import CaFileStore
from osk8s_core.errors import ConfigError, CredentialsError

if TYPE_CHECKING:
    from openstack.connection import Connection


class ConnectionBuilder(Protocol):
    def __call__(
        self, auth: AuthOptions, *, settings: ClientSettings, ca_store: CaFileStore
    ) -> Connection: ...


@dataclass(frozen=True)
class CredentialKey:
    """Hashable identity of a credential set; its repr shows no secret (``SecretStr``)."""

    auth: AuthOptions
    tls_digest: str = field(repr=False)  # digest of CA/cert/key files: identity, not for logs


class ConnectionCache:
    """Connections per credential set, least recently used dropped beyond ``max_entries``."""

    def __init__(
        self,
        *,
        settings: ClientSettings,
        ca_store: CaFileStore | None = None,
        builder: ConnectionBuilder = build_connection,
        max_entries: int = 8,
    ) -> None:
        self._settings = settings
        self._ca_store = ca_store if ca_store is not None else CaFileStore()
        self._builder = builder
        self._max = max_entries
        self._entries: OrderedDict[CredentialKey, Connection] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        """How many connections were built (observability and tests)."""

    def get(self, auth: AuthOptions) -> Connection:
        """The connection for ``auth``, built on first use (validated before any network)."""
        key = CredentialKey(auth, tls_files_digest(auth))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            connection = self._builder(auth, settings=self._settings, ca_store=self._ca_store)
            self.builds += 1
            self._entries[key] = connection
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return connection

    def close(self) -> None:
        """Forget every connection and remove the private CA files."""
        with self._lock:
            self._entries.clear()
        self._ca_store.close()


Loader = Callable[[Sequence[Path]], LoadResult]
Fingerprint = tuple[tuple[str, int, int, int, int], ...]


class ConnectionFactory:
    """The connection for one ``[Global]`` section of a set of cloud.conf files.

    Built once in ``main`` from the ``--cloud-config`` paths. ``get()`` is cheap: a ``stat``
    of each file that went into the config (cloud.conf, clouds.yaml, secure.yaml, CA/cert/key).
    """

    def __init__(
        self,
        config_paths: Sequence[str | Path],
        *,
        settings: ClientSettings,
        section: str = "",
        loader: Loader | None = None,
        cache: ConnectionCache | None = None,
        logger: Any = None,
    ) -> None:
        self._paths = tuple(Path(p) for p in config_paths)
        self._section = section
        self._loader: Loader = loader or load_cloud_config
        self._cache = cache if cache is not None else ConnectionCache(settings=settings)
        self._log = logger if logger is not None else structlog.get_logger("osk8s.credentials")
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint = ()
        self._files: tuple[Path, ...] = self._paths
        self._current: Connection | None = None
        self._auth: AuthOptions | None = None
        self.reloads = 0
        """How many times the config files were re-read after a change."""

    @property
    def auth(self) -> AuthOptions | None:
        """The auth options of the current connection (secrets stay wrapped)."""
        return self._auth

    def get(self) -> Connection:
        """The current connection; re-reads the config first if a file changed."""
        with self._lock:
            previous = self._current
            # Taken before reading, so a write that lands during the reload is seen next time.
            seen = _fingerprint(self._files)
            if previous is not None and seen == self._fingerprint:
                return previous
            try:
                self._current = self._load_and_connect(seen)
            except (ConfigError, CredentialsError) as exc:
                if previous is None:
                    raise
                # Keep the last good credentials; retry only once the files change again,
                # so a broken file gives one log line, not one per call.
                self._fingerprint = seen
                self._log.error("credentials_reload_failed", error=str(exc))
                return previous
            if previous is not None:
                self.reloads += 1
            return self._current

    def close(self) -> None:
        """Drop cached connections and remove private CA files."""
        self._cache.close()

    def __enter__(self) -> ConnectionFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load_and_connect(self, seen: Fingerprint) -> Connection:
        result = self._loader(self._paths)
        auth = result.config.auth.get(self._section)
        if auth is None:
            title = "Global" if not self._section else f'Global "{self._section}"'
            raise ConfigError(
                "section missing",
                file=", ".join(str(p) for p in self._paths),
                section=title,
                expected="auth options for this component",
            )
        connection = self._cache.get(auth)
        files = (*result.files, *_tls_paths(auth))
        # Same files as before: keep the fingerprint taken before reading (see get()).
        self._fingerprint = seen if files == self._files else _fingerprint(files)
        self._files = files
        if self._auth is not None and self._auth != auth:
            self._log.info("credentials_changed", section=self._section or "Global")
        self._auth = auth
        return connection


def _tls_paths(auth: AuthOptions) -> tuple[Path, ...]:
    return tuple(Path(p) for p in (auth.ca_file, auth.cert_file, auth.key_file) if p)


def _fingerprint(files: Sequence[Path]) -> Fingerprint:
    out = []
    for path in files:
        try:
            st = os.stat(path)  # follows symlinks: Kubernetes swaps a ..data symlink
        except OSError:
            out.append((str(path), -1, -1, -1, -1))
            continue
        out.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)
