"""The controller's YAML config (``--config``), read once into frozen dataclasses.

Matches CPO's viper set-up: the file given by ``--config``, else ``$HOME/.ingress_openstack``
with one of viper's YAML/JSON extensions; keys are case-insensitive; every key present in the
file can be overridden by the environment variable named after its dotted path in upper case
(viper ``AutomaticEnv`` without a prefix or key replacer: ``OCTAVIA.SUBNET-ID``,
``OPENSTACK.PASSWORD``, ``CLUSTER-NAME``); values are weakly typed (``"true"`` is a bool).
The ``openstack:`` keys are CPO's ``AuthOpts`` mapstructure names (``project-id`` for the
INI ``tenant-id`` ...) and parse through the core's ``[Global]`` schema, clouds.yaml included.
Unknown keys are warned about (upstream ignores them silently). Never logs a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.loader import load_auth_options
from osk8s_core.config.values import ExpectedError, parse_bool
from osk8s_core.errors import ConfigError

DEFAULT_NAME: Final = ".ingress_openstack"
# viper.SupportedExts that we can read (the YAML family and JSON, which YAML parses).
_EXTENSIONS: Final = ("json", "yaml", "yml")

# CPO AuthOpts mapstructure key (YAML spelling) -> cloud.conf [Global] key.
OPENSTACK_KEYS: Final[Mapping[str, str]] = {
    "auth-url": "auth-url",
    "user-id": "user-id",
    "username": "username",
    "password": "password",
    "project-id": "tenant-id",
    "project-name": "tenant-name",
    "trust-id": "trust-id",
    "trustee-id": "trustee-id",
    "trustee-password": "trustee-password",
    "domain-id": "domain-id",
    "domain-name": "domain-name",
    "project-domain-id": "tenant-domain-id",
    "project-domain-name": "tenant-domain-name",
    "user-domain-id": "user-domain-id",
    "user-domain-name": "user-domain-name",
    "region": "region",
    "os-endpoint-type": "os-endpoint-type",
    "ca-file": "ca-file",
    "tls-insecure": "tls-insecure",
    "cert-file": "cert-file",
    "key-file": "key-file",
    "token": "token",
    "use-clouds": "use-clouds",
    "clouds-file": "clouds-file",
    "cloud": "cloud",
    "application-credential-id": "application-credential-id",
    "application-credential-name": "application-credential-name",
    "application-credential-secret": "application-credential-secret",
}
_OCTAVIA_STR: Final = ("subnet-id", "floating-network-id", "provider", "flavor-id")
_OCTAVIA_BOOL: Final = ("manage-security-groups", "provider-requires-serial-api-calls")
_KUBERNETES: Final = ("api-host", "kubeconfig")


@dataclass(frozen=True)
class KubernetesConfig:
    """``kubernetes:``; both empty means the in-cluster service account (client-go's
    ``BuildConfigFromFlags``)."""

    api_host: str = ""
    """``api-host``: API server URL (overrides the kubeconfig's server)."""
    kubeconfig: str = ""
    """``kubeconfig``: path of a kubeconfig file."""


@dataclass(frozen=True)
class OctaviaConfig:
    """``octavia:``."""

    subnet_id: str = ""
    """``subnet-id`` (required): the VIP subnet; its CIDR opens node ports in managed SGs."""
    floating_network_id: str = ""
    """``floating-network-id``: external network for floating IPs; empty: never a FIP."""
    provider: str = ""
    """``provider``: Octavia provider; empty: the cloud's default."""
    flavor_id: str = ""
    """``flavor-id``: Octavia flavor; empty: the default."""
    manage_security_groups: bool = False
    """``manage-security-groups``: a security group per Ingress on the nodes' ports."""
    provider_requires_serial_api_calls: bool = False
    """``provider-requires-serial-api-calls``: no fully populated create (we always build
    the tree one call at a time, so this only documents the provider)."""


@dataclass(frozen=True)
class IngressConfig:
    """The whole file, parsed."""

    cluster_name: str
    """``cluster-name`` (required): part of every resource name."""
    openstack: AuthOptions
    octavia: OctaviaConfig
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    file: str = ""
    """The file read (viper's ``ConfigFileUsed``)."""
    warnings: tuple[str, ...] = ()
    """Keys that were ignored (unknown)."""


def find_config_file(flag_value: str, environ: Mapping[str, str]) -> Path:
    """``--config`` if given, else ``$HOME/.ingress_openstack.<ext>`` (viper's search)."""
    if flag_value:
        return Path(os.path.expandvars(flag_value)) if "$" in flag_value else Path(flag_value)
    home = Path(environ.get("HOME") or Path.home())
    for ext in _EXTENSIONS:
        candidate = home / f"{DEFAULT_NAME}.{ext}"
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f'Config File "{DEFAULT_NAME}" Not Found in "[{home}]"',
        expected="--config <file> or $HOME/.ingress_openstack.yaml",
    )


def load_config(flag_value: str, *, environ: Mapping[str, str] | None = None) -> IngressConfig:
    """Read, override from the environment, validate; ``ConfigError`` says what and where."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    path = find_config_file(flag_value, env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        document = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"not valid YAML{where}", file=str(path)) from None
    if not isinstance(document, Mapping):
        raise ConfigError("not a mapping", file=str(path), expected="cluster-name: ...")
    values = _flatten(document)
    for key in values:
        override = env.get(key.upper())
        if override is not None:
            values[key] = override
    return _build(values, source=str(path), environ=env)


def _flatten(document: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves by lower-cased dotted path (viper's key space)."""
    out: dict[str, Any] = {}
    for raw_key, value in document.items():
        key = f"{prefix}{str(raw_key).lower()}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{key}."))
        else:
            out[key] = value
    return out


def _text(value: Any) -> str:
    """mapstructure's weak decoding to string: bools as true/false, numbers as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool(values: Mapping[str, Any], key: str, *, source: str) -> bool:
    value = values.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    try:
        return bool(parse_bool(_text(value)))
    except ExpectedError as exc:
        raise ConfigError("invalid value", file=source, key=key, expected=exc.expected) from None


def _build(values: Mapping[str, Any], *, source: str, environ: Mapping[str, str]) -> IngressConfig:
    known = {"cluster-name"}
    known |= {f"kubernetes.{k}" for k in _KUBERNETES}
    known |= {f"octavia.{k}" for k in (*_OCTAVIA_STR, *_OCTAVIA_BOOL)}
    known |= {f"openstack.{k}" for k in OPENSTACK_KEYS}
    warnings = tuple(sorted(f"{key}: unknown key, ignored" for key in values if key not in known))
    cluster = _text(values.get("cluster-name")).strip()
    if not cluster:
        raise ConfigError("clusterName configuration is required", file=source, key="cluster-name")
    octavia = OctaviaConfig(
        subnet_id=_text(values.get("octavia.subnet-id")),
        floating_network_id=_text(values.get("octavia.floating-network-id")),
        provider=_text(values.get("octavia.provider")),
        flavor_id=_text(values.get("octavia.flavor-id")),
        manage_security_groups=_bool(values, "octavia.manage-security-groups", source=source),
        provider_requires_serial_api_calls=_bool(
            values, "octavia.provider-requires-serial-api-calls", source=source
        ),
    )
    if not octavia.subnet_id:
        raise ConfigError(
            "is required", file=source, key="octavia.subnet-id", expected="the VIP subnet id"
        )
    entries = [
        (OPENSTACK_KEYS[key.removeprefix("openstack.")], _text(value), 0)
        for key, value in values.items()
        if key in known and key.startswith("openstack.") and value is not None
    ]
    auth = load_auth_options(entries, source=source, section="openstack", environ=environ)
    kube = KubernetesConfig(
        api_host=_text(values.get("kubernetes.api-host")),
        kubeconfig=_text(values.get("kubernetes.kubeconfig")),
    )
    return IngressConfig(
        cluster_name=cluster,
        openstack=auth,
        octavia=octavia,
        kubernetes=kube,
        file=source,
        warnings=warnings,
    )
