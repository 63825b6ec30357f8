"""Credentials from an ``identityRef`` (capo.md §3): Secret or OpenStackClusterIdentity →
``clouds.yaml`` entry → cached connection → a ``Scope`` of narrow OpenStack clients.

The Secret is read **uncached** on every reconcile (rotating its content takes effect at once,
CAPO #1613); the connection is cached per credential set (``ConnectionCache`` keys on the
whole ``AuthOptions``, secrets included by value), so an unchanged Secret costs no Keystone
round trip. Only the clouds.yaml content is used: no ``OS_*`` variables, no files. Errors
carry a message fit for a condition and never a secret. OpenStackMachine/Server controllers
use the same ``ScopeFactory``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import yaml

from osk8s_core.config.auth import AuthOptions
from osk8s_core.credentials import ConnectionCache
from osk8s_core.errors import CredentialsError, Osk8sError
from osk8s_core.secrets import SecretStr

if TYPE_CHECKING:
    from openstack.connection import Connection

CLOUDS_KEY: Final = "clouds.yaml"
CACERT_KEY: Final = "cacert"
TYPE_SECRET: Final = "Secret"
TYPE_CLUSTER_IDENTITY: Final = "ClusterIdentity"

# clouds.yaml ``auth:`` keys -> AuthOptions fields (the spellings openstacksdk accepts).
_AUTH_FIELDS: Final = {
    "auth_url": "auth_url",
    "username": "username",
    "user_id": "user_id",
    "project_id": "project_id",
    "tenant_id": "project_id",
    "project_name": "project_name",
    "tenant_name": "project_name",
    "domain_id": "domain_id",
    "domain_name": "domain_name",
    "project_domain_id": "project_domain_id",
    "project_domain_name": "project_domain_name",
    "user_domain_id": "user_domain_id",
    "user_domain_name": "user_domain_name",
    "application_credential_id": "application_credential_id",
    "application_credential_name": "application_credential_name",
    "token": "token",
    "password": "password",
    "application_credential_secret": "application_credential_secret",
}
_SECRET_FIELDS: Final = frozenset({"password", "application_credential_secret", "token"})


class IdentityError(Osk8sError):
    """The identityRef cannot be turned into credentials (missing Secret, bad clouds.yaml,
    namespace not allowed). The message is meant for the condition; it holds no secret."""


@dataclass(frozen=True)
class IdentityRef:
    """``spec.identityRef``: ``{type: Secret|ClusterIdentity, name, cloudName, region}``."""

    name: str
    cloud_name: str
    type: str = TYPE_SECRET
    region: str = ""

    @classmethod
    def from_spec(cls, ref: Mapping[str, Any] | None) -> IdentityRef:
        if not ref or not ref.get("name") or not ref.get("cloudName"):
            raise IdentityError("spec.identityRef needs name and cloudName")
        kind = str(ref.get("type") or TYPE_SECRET)
        if kind not in (TYPE_SECRET, TYPE_CLUSTER_IDENTITY):
            raise IdentityError(f"spec.identityRef.type {kind!r} is not Secret or ClusterIdentity")
        return cls(
            name=str(ref["name"]),
            cloud_name=str(ref["cloudName"]),
            type=kind,
            region=str(ref.get("region") or ""),
        )


class SecretReader(Protocol):
    """Reads a Secret's data, decoded; raises ``IdentityError`` when it does not exist."""

    def read_secret(self, namespace: str, name: str) -> Mapping[str, str]: ...


class IdentityReader(Protocol):
    """What a ClusterIdentity needs: the cluster-scoped object and the namespace's labels."""

    def cluster_identity(self, name: str) -> Mapping[str, Any] | None: ...

    def namespace_labels(self, namespace: str) -> Mapping[str, str]: ...


def decode_secret_data(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's base64 ``data`` as text (undecodable values are skipped)."""
    out: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
    return out


def auth_from_clouds_yaml(
    text: str, cloud: str, *, cacert: str | None = None, region: str = "", ca_file: str = ""
) -> AuthOptions:
    """``AuthOptions`` for entry ``cloud`` of a clouds.yaml text.

    CA order as CAPO: the Secret's ``cacert``, then the global ``--ca-certs`` file
    (``ca_file``), then the system roots; ``verify: false`` is insecure mode. ``region``
    (``identityRef.region``) overrides the entry's ``region_name``.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        # The YAML error quotes the offending line, which may hold a password.
        raise IdentityError(f"{CLOUDS_KEY} is not valid YAML") from None
    clouds = data.get("clouds") if isinstance(data, dict) else None
    if not isinstance(clouds, dict):
        raise IdentityError(f"{CLOUDS_KEY} has no clouds mapping")
    entry = clouds.get(cloud)
    if not isinstance(entry, dict):
        raise IdentityError(f"{CLOUDS_KEY} has no cloud named {cloud!r}")
    auth = entry.get("auth") or {}
    if not isinstance(auth, dict):
        raise IdentityError(f"{CLOUDS_KEY}: clouds.{cloud}.auth is not a mapping")
    values: dict[str, Any] = {}
    for yaml_key, attr in _AUTH_FIELDS.items():
        raw = auth.get(yaml_key)
        if raw in (None, ""):
            continue
        values.setdefault(attr, SecretStr(str(raw)) if attr in _SECRET_FIELDS else str(raw))
    if not values.get("auth_url"):
        raise IdentityError(f"{CLOUDS_KEY}: clouds.{cloud}.auth.auth_url is missing")
    verify = entry.get("verify", True)
    values["tls_insecure"] = verify is False or str(verify).lower() == "false"
    chosen_region = region or entry.get("region_name")
    if chosen_region:
        values["region"] = str(chosen_region)
    if entry.get("interface"):
        values["endpoint_type"] = str(entry["interface"])
    if cacert:
        values["ca_data"] = cacert
    elif entry.get("cacert"):
        values["ca_file"] = str(entry["cacert"])
    elif ca_file:
        values["ca_file"] = ca_file
    return AuthOptions(**values)


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector; None means everything (CAPO: nil namespaceSelector allows all)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels[key] not in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class Credentials:
    """Where the credentials came from (for logs and conditions) and the auth options."""

    auth: AuthOptions = field(repr=False)
    source: str


class CredentialResolver:
    """identityRef → ``Credentials``; reads every time (no cache of Secrets)."""

    def __init__(
        self,
        *,
        secrets: SecretReader,
        identities: IdentityReader | None = None,
        ca_file: str = "",
    ) -> None:
        self._secrets = secrets
        self._identities = identities
        self._ca_file = ca_file

    def resolve(self, namespace: str, ref: IdentityRef) -> Credentials:
        if ref.type == TYPE_CLUSTER_IDENTITY:
            secret_ns, secret_name = self._cluster_identity_secret(namespace, ref.name)
        else:
            secret_ns, secret_name = namespace, ref.name
        data = self._secrets.read_secret(secret_ns, secret_name)
        text = data.get(CLOUDS_KEY)
        if not text:
            raise IdentityError(f"secret {secret_ns}/{secret_name} has no {CLOUDS_KEY!r} key")
        try:
            auth = auth_from_clouds_yaml(
                text,
                ref.cloud_name,
                cacert=data.get(CACERT_KEY) or None,
                region=ref.region,
                ca_file=self._ca_file,
            )
        except IdentityError as exc:
            raise IdentityError(f"secret {secret_ns}/{secret_name}: {exc}") from None
        except (TypeError, ValueError, CredentialsError) as exc:
            raise IdentityError(f"secret {secret_ns}/{secret_name}: {exc}") from None
        return Credentials(auth=auth, source=f"secret {secret_ns}/{secret_name}")

    def _cluster_identity_secret(self, namespace: str, name: str) -> tuple[str, str]:
        if self._identities is None:
            raise IdentityError("ClusterIdentity references are not enabled")
        identity = self._identities.cluster_identity(name)
        if identity is None:
            raise IdentityError(f"OpenStackClusterIdentity {name!r} not found")
        spec = identity.get("spec") or {}
        labels = self._identities.namespace_labels(namespace)
        if not _selector_matches(spec.get("namespaceSelector"), labels):
            raise IdentityError(
                f"IdentityAccessDenied: namespace {namespace!r} may not use "
                f"OpenStackClusterIdentity {name!r}"
            )
        ref = spec.get("secretRef") or {}
        if not ref.get("name") or not ref.get("namespace"):
            raise IdentityError(f"OpenStackClusterIdentity {name!r} has no secretRef")
        return str(ref["namespace"]), str(ref["name"])


ConnectionProvider = Callable[[AuthOptions], "Connection"]


class ConnectionSource:
    """identityRef → the cached connection of its credential set."""

    def __init__(self, *, resolver: CredentialResolver, cache: ConnectionCache) -> None:
        self._resolver = resolver
        self._cache = cache

    @property
    def builds(self) -> int:
        return self._cache.builds

    def connection(self, namespace: str, ref: IdentityRef) -> Connection:
        creds = self._resolver.resolve(namespace, ref)
        try:
            return self._cache.get(creds.auth)
        except CredentialsError as exc:
            raise IdentityError(f"{creds.source}: {exc}") from None
