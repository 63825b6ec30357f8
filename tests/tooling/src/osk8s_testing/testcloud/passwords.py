"""The test cloud's generated passwords and keys, kept in ``<dir>/secrets.json`` (mode 0600).

Made once per data directory so a second ``up`` reuses them. Values are ``SecretStr`` in memory
and are only revealed where they are written into a config file or sent to Keystone.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from osk8s_core.secrets import SecretStr


@dataclass(frozen=True)
class Passwords:
    """Credentials of the test cloud."""

    admin: SecretStr
    """Keystone ``admin`` user (project ``admin``)."""
    service: SecretStr
    """Every service user (``keystone_authtoken`` and service-to-service calls)."""
    demo: SecretStr
    """The non-admin ``demo`` user in project ``demo``."""
    barbican_kek: SecretStr
    """Barbican simple_crypto key-encryption key (base64 of 32 bytes)."""
    octavia_ca: SecretStr
    """Passphrase of Octavia's amphora CA key."""


def _new() -> dict[str, str]:
    return {
        "admin": secrets.token_urlsafe(18),
        "service": secrets.token_urlsafe(18),
        "demo": secrets.token_urlsafe(18),
        "barbican_kek": base64.b64encode(secrets.token_bytes(32)).decode(),
        "octavia_ca": secrets.token_urlsafe(18),
    }


def load_or_create(path: Path) -> Passwords:
    if path.exists():
        raw = json.loads(path.read_text())
    else:
        raw = _new()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(raw, f, indent=2)
    return Passwords(**{k: SecretStr(v) for k, v in raw.items()})
