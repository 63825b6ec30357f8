"""Test helpers around CAPO's release artefacts (part F): clusterctl's variable substitution,
and installing the CRDs of ``infrastructure-components.yaml`` (plus the vendored CAPI Cluster
and Machine CRDs) into the in-memory API server, so tests use exactly what a user applies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

RELEASE = Path(__file__).resolve().parents[3] / "services" / "capo" / "release"
COMPONENTS = RELEASE / "infrastructure-components.yaml"
CAPI_CRDS = RELEASE / "vendor" / "capi"

# ${NAME}, ${NAME:=default}, ${NAME:-default}, ${NAME=default}, ${NAME-default}, $NAME
_VARIABLE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariables(ValueError):
    pass


def variables(text: str) -> tuple[set[str], set[str]]:
    """(required, with default) variable names, as ``clusterctl generate --list-variables``."""
    required, optional = set(), set()
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(4)
        (optional if match.group(2) else required).add(name)
    return required - optional, optional


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """clusterctl's default processor (drone/envsubst): ``:=``/``:-`` use the default when the
    variable is unset or empty, ``=``/``-`` only when unset; a variable without a default that
    is unset is an error listing every such name (clusterctl refuses to render)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3) or ""
        value = env.get(name)
        if operator in (":=", ":-") and not value:
            return default
        if operator in ("=", "-") and value is None:
            return default
        if value is None:
            missing.append(name)
            return ""
        return value

    out = _VARIABLE.sub(substitute, text)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise MissingVariables(f"value for variables [{names}] is not set")
    return out


def documents(text: str) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text, Loader=loader) if doc]


def install_crds(api: Any, crds: Iterable[Mapping[str, Any]]) -> None:
    ext = k8s.ApiextensionsV1Api(api)
    for crd in crds:
        ext.create_custom_resource_definition(dict(crd))
    deadline = time.monotonic() + 10
    names = [crd["metadata"]["name"] for crd in crds]
    for name in names:
        while True:
            got = ext.read_custom_resource_definition(name)
            conditions = (got.status.conditions if got.status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not established")
            time.sleep(0.05)


def component_crds() -> list[dict[str, Any]]:
    docs = documents(COMPONENTS.read_text())
    return [d for d in docs if d["kind"] == "CustomResourceDefinition"]


def capi_crds(*plurals: str) -> list[dict[str, Any]]:
    wanted = plurals or ("clusters", "machines")
    return [yaml.safe_load((CAPI_CRDS / f"cluster.x-k8s.io_{p}.yaml").read_text()) for p in wanted]


def install_capo_and_capi(api: Any) -> None:
    """The CAPO CRDs as released and CAPI's Cluster and Machine."""
    install_crds(api, [*component_crds(), *capi_crds()])


def create(api: Any, obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """Create one object of the release (core Secret or a custom resource)."""
    if obj["apiVersion"] == "v1" and obj["kind"] == "Secret":
        return k8s.ApiClient.sanitize_for_serialization(
            api, k8s.CoreV1Api(api).create_namespaced_secret(namespace, dict(obj))
        )
    group, version = obj["apiVersion"].split("/")
    plural = obj["kind"].lower() + "s"
    return dict(
        k8s.CustomObjectsApi(api).create_namespaced_custom_object(
            group, version, namespace, plural, dict(obj)
        )
    )


def namespace(api: Any, name: str) -> str:
    k8s.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name
