"""OpenStack credentials from a CSI request's secrets (the ``os-*`` keys of §8.1).

Manila CSI has no cloud.conf: every RPC carries the Secret the StorageClass names. The keys
are translated to cloud.conf keys and parsed by the core's schema (clouds.yaml completion
with ``os-useClouds`` included), so they mean what they mean everywhere else. Errors name the
key, never a value. Keys without the ``os-`` prefix are ignored, as upstream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.loader import load_auth_options
from osk8s_core.errors import ConfigError
from osk8s_core.grpc.csi import InvalidArgument

SECRET_KEYS: Final[Mapping[str, str]] = {
    "os-authURL": "auth-url",
    "os-userID": "user-id",
    "os-userName": "username",
    "os-password": "password",
    "os-projectID": "tenant-id",
    "os-projectName": "tenant-name",
    "os-trustID": "trust-id",
    "os-trusteeID": "trustee-id",
    "os-trusteePassword": "trustee-password",
    "os-domainID": "domain-id",
    "os-domainName": "domain-name",
    "os-projectDomainID": "tenant-domain-id",
    "os-projectDomainName": "tenant-domain-name",
    "os-userDomainID": "user-domain-id",
    "os-userDomainName": "user-domain-name",
    "os-region": "region",
    "os-endpointType": "os-endpoint-type",
    "os-certAuthorityPath": "ca-file",
    "os-TLSInsecure": "tls-insecure",
    "os-clientCertPath": "cert-file",
    "os-clientKeyPath": "key-file",
    "os-token": "token",
    "os-useClouds": "use-clouds",
    "os-cloudsFile": "clouds-file",
    "os-cloud": "cloud",
    "os-applicationCredentialID": "application-credential-id",
    "os-applicationCredentialName": "application-credential-name",
    "os-applicationCredentialSecret": "application-credential-secret",
}
CA_CONTENTS_KEY: Final = "os-certAuthority"


def auth_from_secrets(secrets: Mapping[str, str]) -> AuthOptions:
    """The credentials the secrets describe; InvalidArgument naming the problem otherwise."""
    entries = [
        (SECRET_KEYS[key], value, 0)
        for key, value in secrets.items()
        if key in SECRET_KEYS and value != ""
    ]
    uses_clouds = secrets.get("os-useClouds", "").lower() in {"1", "t", "true"}
    if "os-authURL" not in secrets and not uses_clouds:
        raise InvalidArgument("missing os-authURL in the request's secrets")
    try:
        auth = load_auth_options(entries, source="CSI secrets", section="secrets")
    except ConfigError as exc:
        # ConfigError names the key and the expected form; it never echoes the value.
        raise InvalidArgument(f"invalid OpenStack credentials in secrets: {exc}") from exc
    ca = secrets.get(CA_CONTENTS_KEY, "")
    if ca:
        auth = dataclasses.replace(auth, ca_data=ca)
    return auth


def read_secrets_dir(path: str) -> dict[str, str]:
    """A mounted Kubernetes Secret: one file per key (dot-files are the kubelet's own)."""
    folder = Path(path)
    return {
        entry.name: entry.read_text().strip()
        for entry in sorted(folder.iterdir())
        if entry.is_file() and not entry.name.startswith(".")
    }
