"""clouds.yaml (and secure.yaml) lookup and reading, mapped onto cloud.conf ``[Global]`` keys.

Finds the file (explicit path, then the search directories the loader passes in), reads one
named cloud, deep-merges secure.yaml over it, and returns raw strings keyed by INI key so the
schema parses them like INI values. It does not read the environment (the loader passes what it
needs) and never puts file contents into error messages (they hold passwords).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from osk8s_core.errors import ConfigError

CLOUDS_NAMES: Final = ("clouds.yaml", "clouds.yml")
SECURE_NAMES: Final = ("secure.yaml", "secure.yml")

# clouds.yaml ``auth:`` keys -> cloud.conf [Global] keys (both spellings openstacksdk accepts).
_AUTH_KEYS: Final = {
    "auth_url": "auth-url",
    "token": "token",
    "username": "username",
    "user_id": "user-id",
    "password": "password",
    "project_id": "tenant-id",
    "tenant_id": "tenant-id",
    "project_name": "tenant-name",
    "tenant_name": "tenant-name",
    "domain_id": "domain-id",
    "domain_name": "domain-name",
    "project_domain_id": "tenant-domain-id",
    "project_domain_name": "tenant-domain-name",
    "user_domain_id": "user-domain-id",
    "user_domain_name": "user-domain-name",
    "application_credential_id": "application-credential-id",
    "application_credential_name": "application-credential-name",
    "application_credential_secret": "application-credential-secret",
    "trust_id": "trust-id",
}
# Cloud-level keys CPO takes from clouds.yaml: region, interface, cacert, cert, key.
_CLOUD_KEYS: Final = {
    "region_name": "region",
    "interface": "os-endpoint-type",
    "cacert": "ca-file",
    "cert": "cert-file",
    "key": "key-file",
}


@dataclass(frozen=True)
class CloudEntry:
    """One cloud read from clouds.yaml: raw values by INI key, and the files they came from."""

    values: Mapping[str, str]
    file: str
    secure_file: str | None
    ignored: tuple[str, ...]


def find_file(
    names: Sequence[str], *, explicit: str | None, search_dirs: Sequence[Path]
) -> Path | None:
    """The explicit path when given (it must exist), else the first match in ``search_dirs``."""
    if explicit:
        return Path(explicit)
    for directory in search_dirs:
        for name in names:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def read_cloud(path: Path, cloud: str, *, secure_path: Path | None) -> CloudEntry:
    """Read entry ``cloud`` of ``path`` with ``secure_path`` merged over it."""
    clouds = _load_clouds(path)
    if cloud not in clouds:
        raise ConfigError(
            f"no cloud named {cloud!r}",
            file=str(path),
            section="clouds",
            key=cloud,
            expected=f"one of {sorted(clouds)}" if clouds else "a clouds: mapping",
        )
    entry: dict[str, Any] = dict(clouds[cloud])
    secure_used: str | None = None
    if secure_path is not None:
        secure = _load_clouds(secure_path)
        if cloud in secure:
            entry = _deep_merge(entry, secure[cloud])
            secure_used = str(secure_path)
    values, ignored = _to_ini(entry, source=str(path), cloud=cloud)
    return CloudEntry(values, str(path), secure_used, ignored)


def _load_clouds(path: Path) -> Mapping[str, Mapping[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path), expected="a clouds.yaml") from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        # The YAML error text quotes the offending line, which may hold a password.
        raise ConfigError(f"invalid YAML{where}", file=str(path), expected="YAML") from None
    clouds = data.get("clouds") if isinstance(data, dict) else None
    if not isinstance(clouds, dict) or not all(isinstance(v, dict) for v in clouds.values()):
        raise ConfigError("no clouds mapping", file=str(path), expected="clouds: {name: {...}}")
    return clouds


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _to_ini(
    entry: Mapping[str, Any], *, source: str, cloud: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    values: dict[str, str] = {}
    auth = entry.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ConfigError("auth is not a mapping", file=source, section=f"clouds.{cloud}")
    for yaml_key, ini_key in _AUTH_KEYS.items():
        if auth.get(yaml_key) not in (None, ""):
            values.setdefault(ini_key, str(auth[yaml_key]))
    for yaml_key, ini_key in _CLOUD_KEYS.items():
        if entry.get(yaml_key) not in (None, ""):
            values[ini_key] = str(entry[yaml_key])
    ignored = tuple(sorted(k for k in auth if k not in _AUTH_KEYS)) + tuple(
        sorted(k for k in entry if k not in _CLOUD_KEYS and k != "auth")
    )
    return values, ignored
