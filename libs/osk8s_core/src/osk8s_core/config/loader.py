"""The one place that reads config files and ``os.environ``: cloud.conf(s) + clouds.yaml + OS_*.

Precedence, per ``[Global]`` section and key by key: cloud.conf files in order (later wins),
then ``OS_*`` variables (only when the caller asks, since CPO disables auto-detection), then
clouds.yaml when ``use-clouds`` is true (explicit values win, as CPO). Unknown sections/keys
are returned as warnings and logged; invalid values raise ``ConfigError``. Nothing is cached.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog

from osk8s_core.config import clouds_yaml
from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.ini import parse_ini
from osk8s_core.config.model import CloudConfig, ConfigWarning
from osk8s_core.config.schema import SECTIONS, Assigned, RawConfig, parse_value
from osk8s_core.errors import ConfigError

# OS_* variables -> [Global] keys, first match wins (legacy TENANT spellings last).
_ENV_KEYS: Final = (
    ("OS_AUTH_URL", "auth-url"),
    ("OS_USER_ID", "user-id"),
    ("OS_USERNAME", "username"),
    ("OS_PASSWORD", "password"),
    ("OS_PROJECT_ID", "tenant-id"),
    ("OS_TENANT_ID", "tenant-id"),
    ("OS_PROJECT_NAME", "tenant-name"),
    ("OS_TENANT_NAME", "tenant-name"),
    ("OS_DOMAIN_ID", "domain-id"),
    ("OS_DOMAIN_NAME", "domain-name"),
    ("OS_PROJECT_DOMAIN_ID", "tenant-domain-id"),
    ("OS_PROJECT_DOMAIN_NAME", "tenant-domain-name"),
    ("OS_USER_DOMAIN_ID", "user-domain-id"),
    ("OS_USER_DOMAIN_NAME", "user-domain-name"),
    ("OS_REGION_NAME", "region"),
    ("OS_INTERFACE", "os-endpoint-type"),
    ("OS_ENDPOINT_TYPE", "os-endpoint-type"),
    ("OS_CACERT", "ca-file"),
    ("OS_CERT", "cert-file"),
    ("OS_KEY", "key-file"),
    ("OS_INSECURE", "tls-insecure"),
    ("OS_TOKEN", "token"),
    ("OS_TRUST_ID", "trust-id"),
    ("OS_APPLICATION_CREDENTIAL_ID", "application-credential-id"),
    ("OS_APPLICATION_CREDENTIAL_NAME", "application-credential-name"),
    ("OS_APPLICATION_CREDENTIAL_SECRET", "application-credential-secret"),
    ("OS_CLOUD", "cloud"),
)
_KNOWN_LB_PROVIDERS: Final = frozenset({"amphora", "octavia", "ovn", "f5", "amphorav2"})
_KNOWN_CONTAINER_STORES: Final = frozenset({"barbican", "external"})
# clouds.yaml keys that are normal and harmless to skip; anything else skipped is warned.
_QUIET_CLOUDS_KEYS: Final = frozenset({"identity_api_version", "auth_type", "regions"})


@dataclass(frozen=True)
class LoadResult:
    """The merged config, what was ignored, and every file read (for change detection)."""

    config: CloudConfig
    warnings: tuple[ConfigWarning, ...]
    files: tuple[Path, ...]


def default_search_dirs(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """clouds.yaml search order after the explicit file: cwd, ~/.config/openstack, /etc.

    Without ``HOME`` and without a passwd entry for the uid (an image run as an arbitrary
    ``runAsUser``, e.g. CPO's 1001), there is no home directory: it is skipped, not fatal."""
    env = os.environ if environ is None else environ
    home: Path | None = Path(env["HOME"]) if env.get("HOME") else None
    if home is None:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):
            home = None
    homes = (home / ".config" / "openstack",) if home is not None else ()
    return (Path.cwd(), *homes, Path("/etc/openstack"))


def load_cloud_config(
    paths: Sequence[str | Path],
    *,
    environ: Mapping[str, str] | None = None,
    auth_from_env: bool = False,
    search_dirs: Sequence[Path] | None = None,
    logger: Any = None,
) -> LoadResult:
    """Read and merge ``paths`` (in order) into a ``CloudConfig``.

    ``environ`` defaults to ``os.environ``; it is consulted for ``OS_CLIENT_CONFIG_FILE`` /
    ``OS_CLIENT_SECURE_FILE`` (as CPO) and, only with ``auth_from_env=True``, for ``OS_*``
    auth variables, which fill the plain ``[Global]`` section's unset keys.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    dirs = tuple(search_dirs) if search_dirs is not None else default_search_dirs(env)
    raw = RawConfig()
    files: list[Path] = []
    for path in paths:
        raw.add_file(parse_ini(_read_text(Path(path)), source=str(path)), source=str(path))
        files.append(Path(path))
    if auth_from_env:
        _fill_from_env(raw, env)
    for (name, sub), values in raw.sections.items():
        if name == "global" and _value(values, "use_clouds", default=False):
            files.extend(_fill_from_clouds(raw, values, sub, env=env, search_dirs=dirs))
    config = raw.build()
    warnings = (*raw.warnings, *_semantic_warnings(raw))
    log = logger if logger is not None else structlog.get_logger("osk8s.config")
    for warning in warnings:
        log.warning(
            "config_warning",
            file=warning.file,
            line=warning.line,
            section=warning.section,
            key=warning.key,
            reason=warning.message,
        )
    return LoadResult(config, tuple(warnings), tuple(files))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path), expected="a readable file") from None
    except IsADirectoryError:
        raise ConfigError("is a directory", file=str(path), expected="a file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(path), expected="UTF-8") from None


def _value(values: Mapping[str, Assigned], name: str, *, default: Any) -> Any:
    assigned = values.get(name)
    return default if assigned is None else assigned.value


def _fill_unset(values: dict[str, Assigned], ini_key: str, raw: str, *, source: str) -> None:
    spec = SECTIONS["global"].fields[ini_key]
    if spec.name not in values:
        value = parse_value(spec, raw, source=source, section="Global")
        values[spec.name] = Assigned(value, source, 0)


def _fill_from_env(raw: RawConfig, env: Mapping[str, str]) -> None:
    values = raw.sections.setdefault(("global", None), {})
    for variable, ini_key in _ENV_KEYS:
        if env.get(variable):
            _fill_unset(values, ini_key, env[variable], source=f"${variable}")
    if env.get("OS_CLOUD"):
        _fill_unset(values, "use-clouds", "true", source="$OS_CLOUD")


def _fill_from_clouds(
    raw: RawConfig,
    values: dict[str, Assigned],
    sub: str | None,
    *,
    env: Mapping[str, str],
    search_dirs: Sequence[Path],
) -> list[Path]:
    title = "Global" if sub is None else f'Global "{sub}"'
    cloud = _value(values, "cloud", default=None)
    if not cloud:
        origin = values["use_clouds"].file
        raise ConfigError(
            "use-clouds is true but no cloud is named",
            file=origin,
            section=title,
            key="cloud",
            expected="the name of an entry in clouds.yaml",
        )
    explicit = _value(values, "clouds_file", default=None) or env.get("OS_CLIENT_CONFIG_FILE")
    path = clouds_yaml.find_file(
        clouds_yaml.CLOUDS_NAMES, explicit=explicit, search_dirs=search_dirs
    )
    if path is None:
        raise ConfigError(
            "use-clouds is true but no clouds.yaml was found",
            file=values["use_clouds"].file,
            section=title,
            key="clouds-file",
            expected=f"clouds.yaml in one of {[str(d) for d in search_dirs]}",
        )
    secure_dirs = (path.parent, *search_dirs)
    secure = clouds_yaml.find_file(
        clouds_yaml.SECURE_NAMES, explicit=env.get("OS_CLIENT_SECURE_FILE"), search_dirs=secure_dirs
    )
    entry = clouds_yaml.read_cloud(path, cloud, secure_path=secure)
    for ini_key, text in entry.values.items():
        _fill_unset(values, ini_key, text, source=entry.file)
    for key in entry.ignored:
        if key not in _QUIET_CLOUDS_KEYS:
            raw.warnings.append(
                ConfigWarning(entry.file, 0, f"clouds.{cloud}", key, "not used by osk8s")
            )
    return [path] if entry.secure_file is None else [path, Path(entry.secure_file)]


def _semantic_warnings(raw: RawConfig) -> list[ConfigWarning]:
    """Values CPO accepts with a warning only (matches CPO's start-up checks)."""
    values = raw.sections.get(("loadbalancer", None), {})
    checks = (
        ("lb_provider", "lb-provider", _KNOWN_LB_PROVIDERS, "unknown provider"),
        ("container_store", "container-store", _KNOWN_CONTAINER_STORES, "unknown store"),
    )
    out: list[ConfigWarning] = []
    for name, key, known, message in checks:
        assigned = values.get(name)
        if assigned is not None and assigned.value not in known:
            out.append(ConfigWarning(assigned.file, assigned.line, "LoadBalancer", key, message))
    return out


def load_auth_options(
    entries: Sequence[tuple[str, str, int]],
    *,
    source: str,
    section: str = "openstack",
    environ: Mapping[str, str] | None = None,
    search_dirs: Sequence[Path] | None = None,
) -> AuthOptions:
    """``[Global]`` auth options given as (cloud.conf key, raw value, line) triples read from
    another format (the ingress controller's ``openstack:`` YAML map), parsed by the same
    schema and completed from clouds.yaml when ``use-clouds`` is true (explicit values win).

    Unknown keys raise ``ConfigError`` naming ``section``; values are never echoed.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    dirs = tuple(search_dirs) if search_dirs is not None else default_search_dirs(env)
    spec = SECTIONS["global"]
    values: dict[str, Assigned] = {}
    for key, raw, line in entries:
        field_spec = spec.fields.get(key)
        if field_spec is None:
            raise ConfigError("unknown key", file=source, section=section, key=key)
        values[field_spec.name] = Assigned(
            parse_value(field_spec, raw, source=source, section=section), source, line
        )
    if _value(values, "use_clouds", default=False):
        _fill_from_clouds(RawConfig(), values, None, env=env, search_dirs=dirs)
    return AuthOptions(**{name: assigned.value for name, assigned in values.items()})
