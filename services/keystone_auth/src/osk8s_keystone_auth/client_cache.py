"""Opt-in on-disk token cache of the exec plugin: one 0600 file per credential, in a 0700 dir.

Off unless asked for (CPO writes nothing to disk). kubectl runs the plugin once per process;
reusing a token until shortly before it expires spares Keystone a login per ``kubectl get``.
The file name is a digest of the credential's non-secret identity (``client.credential_key``);
the token itself is the only secret written, and only here. A file is created exclusively and
never through a symlink, then renamed into place. A damaged file is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from osk8s_core.secrets import SecretStr

MARGIN = timedelta(minutes=1)
"""A cached token is used only while it has at least this long left."""


@dataclass(frozen=True)
class CachedToken:
    token: SecretStr
    expires: datetime


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class TokenFileCache:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _path(self, key: str) -> Path:
        return self._dir / f"{key}.json"

    def load(self, key: str, *, now: datetime) -> CachedToken | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            expires = datetime.fromisoformat(str(data["expires"]))
            token = SecretStr(str(data["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires - now < MARGIN:
            return None
        return CachedToken(token, expires)

    def store(self, key: str, token: SecretStr, expires: datetime) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # left by a killed run with the same pid
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"token": token.reveal(), "expires": expires.isoformat()}, handle)
        os.replace(tmp, path)  # atomic: a concurrent kubectl never reads half a file

    def drop(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._path(key).unlink()
