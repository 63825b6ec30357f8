"""Every provider-os container of upstream's manifests and charts, as the kubelet would start it.

Reads CPO v1.36.0's deployment files (third_party/cpo-deploy, a verbatim copy of
/work/shared/specs/cpo-deploy): plain manifests, the keystone webhook example, the octavia
StatefulSet inline in its doc, and the cinder and manila charts rendered with default values
(the OCCM chart needs a `common` chart that is not there; its plain manifests stand for it).
Each container becomes a `Container`: its argv as the kubelet builds it (command or the image's
Entrypoint, then args, `$(VAR)` expanded from its env, also in exec probes), env, user, mounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "third_party" / "cpo-deploy"

# provider-os image name -> our service folder.
SERVICES = {
    "cinder-csi-plugin": "cinder_csi",
    "manila-csi-plugin": "manila_csi",
    "openstack-cloud-controller-manager": "ccm",
    "barbican-kms-plugin": "barbican_kms",
    "k8s-keystone-auth": "keystone_auth",
    "octavia-ingress-controller": "octavia_ingress",
    # Not in CPO: CAPO's manager, started as our own chart starts it (manifests/).
    "capo-controller-manager": "capo",
}
# Services whose logic has not landed: their binaries refuse with one line (exit 3), and their
# charts are marked deprecated (tests/build/test_charts.py) until their issue lands.
UNWRITTEN: frozenset[str] = frozenset()
OCTAVIA_IMAGE = "registry.k8s.io/provider-os/octavia-ingress-controller:v1.36.0"
# What the kubelet's downward API would give a fieldRef here.
FIELD_REFS = {"spec.nodeName": "node-1", "metadata.namespace": "kube-system"}
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes dependent-variable expansion: `$(VAR)` from env, `$$` -> `$`, unknown kept."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR.sub(one, text)


@dataclass(frozen=True)
class Mount:
    path: str
    volume: dict[str, Any]


@dataclass(frozen=True)
class Container:
    """One provider-os container of one file, as the kubelet would run it."""

    source: str  # file (and object) it came from
    name: str
    service: str
    command: list[str] | None
    args: list[str]
    env: dict[str, str]
    user: int | None  # runAsUser, None: the image's user
    mounts: list[Mount] = field(default_factory=list)
    probes: list[list[str]] = field(default_factory=list)  # exec probes, expanded

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"

    def argv(self, entrypoint: list[str]) -> list[str]:
        """What runs: `command` replaces the image's Entrypoint; `args` follow either."""
        head = self.command if self.command is not None else entrypoint
        return [expand(a, self.env) for a in [*head, *self.args]]


def _env(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = expand(str(item["value"]), env)
        elif "fieldRef" in (item.get("valueFrom") or {}):
            env[item["name"]] = FIELD_REFS[item["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def _user(pod: dict[str, Any], container: dict[str, Any]) -> int | None:
    for context in (container.get("securityContext") or {}, pod.get("securityContext") or {}):
        if "runAsUser" in context:
            return int(context["runAsUser"])
    return None


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = obj.get("kind")
    if kind == "Pod":
        yield obj["spec"]
    elif kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        yield obj["spec"]["template"]["spec"]


def containers_of(source: str, objects: list[dict[str, Any]]) -> list[Container]:
    found = []
    for obj in objects:
        for pod in _pod_specs(obj):
            volumes = {v["name"]: v for v in pod.get("volumes") or []}
            for c in pod.get("containers") or []:
                name = str(c.get("image", "")).rsplit("/", 1)[-1].split(":")[0]
                if name not in SERVICES:
                    continue  # kubernetes-csi sidecars: not our images
                env = _env(c)
                probes = [
                    [expand(a, env) for a in probe["exec"]["command"]]
                    for key in ("livenessProbe", "readinessProbe", "startupProbe")
                    for probe in [c.get(key) or {}]
                    if "exec" in probe
                ]
                found.append(
                    Container(
                        source=f"{source}/{obj['kind']}/{obj['metadata']['name']}",
                        name=c["name"],
                        service=SERVICES[name],
                        command=c.get("command"),
                        args=[str(a) for a in c.get("args") or []],
                        env=env,
                        user=_user(pod, c),
                        mounts=[
                            Mount(m["mountPath"], volumes.get(m["name"], {}))
                            for m in c.get("volumeMounts") or []
                        ],
                        probes=probes,
                    )
                )
    return found


def _load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _octavia_statefulset(doc: Path) -> str:
    """The heredoc that writes deployment.yaml in the octavia doc (upstream has no file)."""
    lines = doc.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("/deployment.yaml"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "EOF")
    text = "\n".join(lines[start + 1 : end]) + "\n"
    return text.replace("${image}", OCTAVIA_IMAGE)  # the doc's shell variable


def render_chart(chart: Path) -> list[dict[str, Any]]:
    import helm_python as helm

    with helm.Chart.load(chart) as loaded:
        out = loaded.render({}, name=chart.name, namespace="kube-system")
    return [
        doc
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt") and text.strip()
        for doc in _load_all(text)
    ]


# Placeholders upstream's raw manila manifests ask the operator to fill in (the chart fills them
# from values): the protocol and the partner node plugin's socket folder (csi-driver-nfs).
_MANILA_PLACEHOLDERS = {"SHARE-PROTOCOL": "NFS", "FWD-NODEPLUGIN": "csi-nfsplugin"}


def _operator_filled(text: str) -> str:
    for placeholder, value in _MANILA_PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def upstream_containers(keystone_url: str) -> list[Container]:
    """Every provider-os container in cpo-deploy (charts rendered with default values)."""
    found: list[Container] = []
    for path in sorted((DEPLOY / "manifests").rglob("*.yaml")):
        rel = path.relative_to(DEPLOY).as_posix()
        found += containers_of(rel, _load_all(_operator_filled(path.read_text())))
    webhook = DEPLOY / "examples" / "webhook" / "keystone-deployment.yaml"
    text = webhook.read_text().replace("{{ keystone_server_url }}", keystone_url)
    found += containers_of(webhook.relative_to(DEPLOY).as_posix(), _load_all(text))
    doc = DEPLOY / "docs" / "octavia-ingress-controller" / "using-octavia-ingress-controller.md"
    found += containers_of(doc.relative_to(DEPLOY).as_posix(), _load_all(_octavia_statefulset(doc)))
    for chart in ("cinder-csi-plugin", "manila-csi-plugin"):
        found += containers_of(f"charts/{chart}", render_chart(DEPLOY / "charts" / chart))
    capo = ROOT / "manifests" / "capo-controller-manager"
    for path in sorted(capo.glob("*.yaml")):
        found += containers_of(path.relative_to(ROOT).as_posix(), _load_all(path.read_text()))
    return found
