"""ExecCredential output of the kubectl exec plugin, in the version kubectl asked for.

kubectl passes ``KUBERNETES_EXEC_INFO`` (an ExecCredential with ``apiVersion`` and
``spec.interactive``); we answer in that version, ``client.authentication.k8s.io/v1`` or
``v1beta1`` (CPO only ever printed v1beta1: #54). Pure functions; the token is revealed only
into the returned document, which goes to stdout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from osk8s_core.secrets import SecretStr

V1: Final = "client.authentication.k8s.io/v1"
V1BETA1: Final = "client.authentication.k8s.io/v1beta1"
SUPPORTED: Final = (V1, V1BETA1)


@dataclass(frozen=True)
class ExecInfo:
    api_version: str = V1BETA1
    interactive: bool | None = None
    """``spec.interactive`` from kubectl; None when kubectl did not say (older kubectl)."""


def parse_exec_info(environ: Mapping[str, str]) -> ExecInfo:
    raw = environ.get("KUBERNETES_EXEC_INFO", "")
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    version = data.get("apiVersion")
    raw_spec = data.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    interactive = spec.get("interactive") if isinstance(spec.get("interactive"), bool) else None
    return ExecInfo(
        api_version=version if version in SUPPORTED else V1BETA1, interactive=interactive
    )


def rfc3339(when: datetime) -> str:
    """UTC, RFC 3339 with a ``Z`` (what client-go parses for expirationTimestamp)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exec_credential(
    api_version: str, token: SecretStr | None = None, expires: datetime | None = None
) -> dict[str, Any]:
    """The document; without a token an empty status (CPO's answer to bad credentials)."""
    status: dict[str, Any] = {}
    if token is not None:
        status["token"] = token.reveal()
        if expires is not None:
            status["expirationTimestamp"] = rfc3339(expires)
    return {"apiVersion": api_version, "kind": "ExecCredential", "status": status}
