"""Every flag form CPO's own manifests and charts pass parses for our binaries, as upstream's.

Two checks over /work/shared/specs/cpo-deploy (v1.36.0):
- a table with every occurrence listed in its README §4 (bare booleans, ``=true|false``, comma
  lists, ``-v=2``/``--v=1``, space-separated values, empty values), each applied to the right
  binary's parser and the parsed value asserted;
- the whole argument line of every provider-os container, read from the manifests themselves
  (``$(VAR)`` expanded from the container's env, ``sh -c`` strings split as sh does), and the
  default chart renders (with every optional branch on), parse with no warning.
Plus the CAPO manager arguments (capo.md §4). Unit-level and fast: no image, no subprocess.
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from osk8s_barbican_kms.cli import build_parser as barbican_parser
from osk8s_capo.cli import build_parser as capo_parser
from osk8s_ccm.cli import build_parser as ccm_parser
from osk8s_cinder_csi.cli import build_parser as cinder_parser
from osk8s_cinder_csi.settings import settings_from_args
from osk8s_core.cli.goflags import GoFlagParser
from osk8s_keystone_auth.client_options import build_client_parser
from osk8s_keystone_auth.options import build_server_parser
from osk8s_manila_csi.cli import build_parser as manila_parser
from osk8s_octavia_ingress.cli import build_parser as octavia_parser

DEPLOY = Path("/work/shared/specs/cpo-deploy")
if not DEPLOY.is_dir():  # pragma: no cover - the shared specs are part of the workspace
    DEPLOY = Path(__file__).resolve().parents[3] / "third_party" / "cpo-deploy"

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "openstack-cloud-controller-manager": ccm_parser,
    "cinder-csi-plugin": cinder_parser,
    "manila-csi-plugin": manila_parser,
    "octavia-ingress-controller": octavia_parser,
    "k8s-keystone-auth": build_server_parser,
    "client-keystone-auth": build_client_parser,
    "barbican-kms-plugin": barbican_parser,
    "capo-controller-manager": capo_parser,
}

CINDER, MANILA, OCCM = (
    "cinder-csi-plugin",
    "manila-csi-plugin",
    "openstack-cloud-controller-manager",
)
CINDER_M = "manifests/cinder-csi-plugin/"
CINDER_C = "charts/cinder-csi-plugin/templates/"
MANILA_M = "manifests/manila-csi-plugin/"
MANILA_C = "charts/manila-csi-plugin/templates/"
OCCM_M = "manifests/controller-manager/"
OCCM_C = "charts/openstack-cloud-controller-manager/templates/"


def parse(binary: str, argv: list[str]) -> tuple[argparse.Namespace, str]:
    parser = PARSERS[binary]()
    assert isinstance(parser, GoFlagParser)
    parser.warning_stream = io.StringIO()
    ns = parser.parse_args(argv)
    return ns, parser.warning_stream.getvalue()


# README §4, occurrence by occurrence: (where, binary, argv, attribute, expected value).
OCCURRENCES: list[tuple[str, str, list[str], str, Any]] = [
    # a. bare booleans
    (
        CINDER_M + "cinder-csi-controllerplugin.yaml:102",
        CINDER,
        ["--pvc-annotations"],
        "pvc_annotations",
        True,
    ),
    (
        CINDER_C + "controllerplugin-deployment.yaml:179",
        CINDER,
        ["--pvc-annotations"],
        "pvc_annotations",
        True,
    ),
    (
        MANILA_M + "csi-controllerplugin.yaml:88",
        MANILA,
        ["--pvc-annotations"],
        "pvc_annotations",
        True,
    ),
    (
        MANILA_C + "controllerplugin-statefulset.yaml:106",
        MANILA,
        ["--pvc-annotations"],
        "pvc_annotations",
        True,
    ),
    (
        MANILA_C + "controllerplugin-statefulset.yaml:92",
        MANILA,
        ["--with-topology"],
        "with_topology",
        True,
    ),
    (MANILA_C + "nodeplugin-daemonset.yaml:59", MANILA, ["--with-topology"], "with_topology", True),
    (
        MANILA_M + "csi-controllerplugin.yaml:90 (comment)",
        MANILA,
        ["--with-topology"],
        "with_topology",
        True,
    ),
    (
        MANILA_M + "csi-nodeplugin.yaml:61 (comment)",
        MANILA,
        ["--with-topology"],
        "with_topology",
        True,
    ),
    ("§5 cinder: bare --with-topology", CINDER, ["--with-topology"], "with_topology", True),
    # b. booleans with a value
    (
        CINDER_M + "cinder-csi-nodeplugin.yaml:60",
        CINDER,
        ["--provide-controller-service=false"],
        "provide_controller_service",
        False,
    ),
    (
        CINDER_C + "nodeplugin-daemonset.yaml:94",
        CINDER,
        ["--provide-controller-service=false"],
        "provide_controller_service",
        False,
    ),
    (
        CINDER_C + "controllerplugin-deployment.yaml:174",
        CINDER,
        ["--provide-node-service=false"],
        "provide_node_service",
        False,
    ),
    (
        OCCM_M + "openstack-cloud-controller-manager-ds.yaml:57",
        OCCM,
        ["--use-service-account-credentials=false"],
        "use_service_account_credentials",
        False,
    ),
    (
        OCCM_C + "daemonset.yaml:59",
        OCCM,
        ["--use-service-account-credentials=false"],
        "use_service_account_credentials",
        False,
    ),
    (
        OCCM_M + "openstack-cloud-controller-manager-pod.yaml:21",
        OCCM,
        ["--use-service-account-credentials=true"],
        "use_service_account_credentials",
        True,
    ),
    # c. comma lists and maps
    (
        OCCM_C + "daemonset.yaml:60",
        OCCM,
        ["--controllers=cloud-node,cloud-node-lifecycle,route,service"],
        "controllers",
        ["cloud-node", "cloud-node-lifecycle", "route", "service"],
    ),
    (
        "values.yaml:90 comment ('*' and '-name')",
        OCCM,
        ["--controllers=*,-route"],
        "controllers",
        ["*", "-route"],
    ),
    (
        CINDER_M + "cinder-csi-controllerplugin.yaml:100",
        CINDER,
        ["--cloud-config=/etc/config/cloud.conf"],
        "cloud_config",
        ["/etc/config/cloud.conf"],
    ),
    (
        CINDER_M + "cinder-csi-nodeplugin.yaml:61",
        CINDER,
        ["--cloud-config=/etc/config/cloud.conf"],
        "cloud_config",
        ["/etc/config/cloud.conf"],
    ),
    (
        CINDER_C + "controllerplugin-deployment.yaml:172",
        CINDER,
        ["--cloud-config=/etc/config/cloud.conf"],
        "cloud_config",
        ["/etc/config/cloud.conf"],
    ),
    (
        CINDER_C + "nodeplugin-daemonset.yaml:95",
        CINDER,
        ["--cloud-config=/etc/config/cloud.conf"],
        "cloud_config",
        ["/etc/config/cloud.conf"],
    ),
    ("§5 cinder: --cloud-config=a,b", CINDER, ["--cloud-config=a,b"], "cloud_config", ["a", "b"]),
    (
        "§4c cinder --cloud-config repeated",
        CINDER,
        ["--cloud-config=a,b", "--cloud-config", "c"],
        "cloud_config",
        ["a", "b", "c"],
    ),
    (
        "§4c cinder --cloud-name",
        CINDER,
        ["--cloud-name=east,west", "--cloud-name=north"],
        "cloud_name",
        ["east", "west", "north"],
    ),
    (
        "§4c cinder --additional-topology",
        CINDER,
        ["--additional-topology", "topology.kubernetes.io/region=r1,rack=7"],
        "additional_topology",
        {"topology.kubernetes.io/region": "r1", "rack": "7"},
    ),
    (
        "§4c cinder --user-agent (repeat only)",
        CINDER,
        ["--user-agent=a,b", "--user-agent=c"],
        "user_agent",
        ["a,b", "c"],
    ),
    (
        "§2.3 OCCM --user-agent",
        OCCM,
        ["--user-agent", "x/1", "--user-agent=y/2"],
        "user_agent",
        ["x/1", "y/2"],
    ),
    # d. durations (none passed to provider-os images in the files; upstream flags)
    (
        "§4d cinder --min-resync-period",
        CINDER,
        ["--min-resync-period=1h30m"],
        "min_resync_period",
        timedelta(minutes=90),
    ),
    (
        "§4d manila --min-resync-period",
        MANILA,
        ["--min-resync-period=90s"],
        "min_resync_period",
        timedelta(seconds=90),
    ),
    (
        "§4d OCCM --node-monitor-period",
        OCCM,
        ["--node-monitor-period", "5m"],
        "node_monitor_period",
        timedelta(minutes=5),
    ),
    # e. single-dash -v=N
    (CINDER_C + "controllerplugin-deployment.yaml:170", CINDER, ["-v=2"], "verbosity", 2),
    (CINDER_C + "nodeplugin-daemonset.yaml:92", CINDER, ["-v=2"], "verbosity", 2),
    (MANILA_C + "controllerplugin-statefulset.yaml:90", MANILA, ["-v=2"], "verbosity", 2),
    (MANILA_C + "nodeplugin-daemonset.yaml:54", MANILA, ["-v=2"], "verbosity", 2),
    # f. klog --v=N
    (CINDER_M + "cinder-csi-controllerplugin.yaml:103", CINDER, ["--v=1"], "verbosity", 1),
    (CINDER_M + "cinder-csi-nodeplugin.yaml:62", CINDER, ["--v=1"], "verbosity", 1),
    (OCCM_M + "openstack-cloud-controller-manager-ds.yaml:53", OCCM, ["--v=1"], "verbosity", 1),
    (OCCM_M + "openstack-cloud-controller-manager-pod.yaml:17", OCCM, ["--v=1"], "verbosity", 1),
    (OCCM_C + "daemonset.yaml:55", OCCM, ["--v=2"], "verbosity", 2),
    # g. other forms
    (
        "examples/webhook/keystone-deployment.yaml:24",
        "k8s-keystone-auth",
        ["--tls-cert-file", "/etc/pki/tls.crt"],
        "tls_cert_file",
        "/etc/pki/tls.crt",
    ),
    (
        "examples/webhook/keystone-deployment.yaml:26",
        "k8s-keystone-auth",
        ["--tls-private-key-file", "/etc/pki/tls.key"],
        "tls_private_key_file",
        "/etc/pki/tls.key",
    ),
    (
        "examples/webhook/keystone-deployment.yaml:28",
        "k8s-keystone-auth",
        ["--policy-configmap-name", "k8s-auth-policy"],
        "policy_configmap_name",
        "k8s-auth-policy",
    ),
    (
        "examples/webhook/keystone-deployment.yaml:30",
        "k8s-keystone-auth",
        ["--keystone-url", "https://keystone:5000/v3"],
        "keystone_url",
        "https://keystone:5000/v3",
    ),
    (
        MANILA_C + "controllerplugin-statefulset.yaml:104",
        MANILA,
        shlex.split('--cluster-id=""'),
        "cluster_id",
        "",
    ),
    (
        MANILA_C + "nodeplugin-daemonset.yaml:65",
        MANILA,
        shlex.split('--cluster-id=""'),
        "cluster_id",
        "",
    ),
    (
        CINDER_C + "controllerplugin-deployment.yaml:176",
        CINDER,
        ["--http-endpoint=:8080"],
        "http_endpoint",
        ":8080",
    ),
    (
        OCCM_M + "openstack-cloud-controller-manager-ds.yaml:58",
        OCCM,
        ["--bind-address=127.0.0.1"],
        "bind_address",
        "127.0.0.1",
    ),
    (OCCM_C + "daemonset.yaml:62", OCCM, ["--bind-address=0.0.0.0"], "bind_address", "0.0.0.0"),
    (
        "manifests/barbican-kms/pod.yaml:10",
        "barbican-kms-plugin",
        ["--socketpath=/kms/kms.sock"],
        "socketpath",
        "/kms/kms.sock",
    ),
    (
        "CPO Dockerfile CMD (barbican)",
        "barbican-kms-plugin",
        ["--socketpath", "/kms/kms.sock", "--cloud-config", "/etc/c"],
        "cloud_config",
        "/etc/c",
    ),
    (
        "docs/octavia-ingress-controller/...md:210",
        "octavia-ingress-controller",
        ["--config=/etc/config/octavia-ingress-controller-config.yaml"],
        "config",
        "/etc/config/octavia-ingress-controller-config.yaml",
    ),
    ("§2.6 octavia --debug", "octavia-ingress-controller", ["--debug"], "debug", True),
    (
        "capo.md §4 manager.yaml",
        "capo-controller-manager",
        ["--leader-elect"],
        "leader_elect",
        True,
    ),
    (
        "capo.md §4 manager.yaml",
        "capo-controller-manager",
        ["--insecure-diagnostics=true"],
        "insecure_diagnostics",
        True,
    ),
    (
        "capo.md §4 manager.yaml",
        "capo-controller-manager",
        ["--diagnostics-address=127.0.0.1:8080"],
        "diagnostics_address",
        "127.0.0.1:8080",
    ),
    (
        "capo.md §4 feature gates",
        "capo-controller-manager",
        ["--feature-gates=PriorityQueue=true,AutoScaleFromZero=false"],
        "feature_gates",
        {"PriorityQueue": True, "AutoScaleFromZero": False},
    ),
    (
        "capo.md §4 --sync-period",
        "capo-controller-manager",
        ["--sync-period=10m"],
        "sync_period",
        timedelta(minutes=10),
    ),
    ("capo.md §4 -v", "capo-controller-manager", ["--v=2"], "verbosity", 2),
]


@pytest.mark.parametrize(
    ("where", "binary", "argv", "attr", "expected"),
    OCCURRENCES,
    ids=[f"{o[1]}:{' '.join(o[2])}@{o[0]}" for o in OCCURRENCES],
)
def test_readme_section4_occurrence(
    where: str, binary: str, argv: list[str], attr: str, expected: Any
) -> None:
    ns, warnings = parse(binary, argv)
    assert getattr(ns, attr) == expected, where
    assert warnings == ""


# -- whole argument lines ------------------------------------------------------------------------

_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_PLACEHOLDERS = {"{{ keystone_server_url }}": "https://keystone.example:5000/v3"}


def _expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion (unknown names stay as written, as the kubelet does)."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def _documents(path: Path) -> Iterator[Any]:
    text = path.read_text()
    for placeholder, value in _PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    if path.suffix == ".md":
        # The octavia doc writes its StatefulSet through a shell heredoc with ${image} in it.
        shell_vars = dict(re.findall(r'^(\w+)="([^"]*)"$', text, flags=re.M))
        for heredoc in re.findall(r"<<EOF[^\n]*\n(.*?)\nEOF", text, flags=re.S):
            block = re.sub(
                r"\$\{(\w+)\}", lambda m: shell_vars.get(m.group(1), m.group(0)), heredoc
            )
            if "provider-os/" in block:
                yield from yaml.safe_load_all(block)
        return
    yield from yaml.safe_load_all(text)


def _containers(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _containers(item)


def manifest_lines(
    files: list[Path], root: Path, image_marker: str
) -> list[tuple[str, str, list[str]]]:
    """(file, binary, argv without the program) of every container whose image has the marker."""
    lines = []
    for path in files:
        for doc in _documents(path):
            for container in _containers(doc):
                image = str(container.get("image", ""))
                if image_marker not in image:
                    continue
                binary = image.rsplit("/", 1)[1].split(":", 1)[0]
                env = {
                    e["name"]: str(e.get("value", ""))
                    for e in container.get("env", [])
                    if "name" in e
                }
                command = [str(a) for a in container.get("command", [])]
                args = [str(a) for a in container.get("args", [])]
                if command[:2] == ["/bin/sh", "-c"]:
                    argv = shlex.split(_expand(command[2], env))
                else:
                    argv = [_expand(a, env) for a in command + args]
                if argv and not argv[0].startswith("-"):
                    assert Path(argv[0]).name == binary, (path, argv[0])
                    argv = argv[1:]
                lines.append((str(path.relative_to(root)), binary, argv))
    return lines


MANIFEST_LINES = manifest_lines(
    [
        *sorted((DEPLOY / "manifests").rglob("*.yaml")),
        *sorted((DEPLOY / "examples").rglob("*.yaml")),
        *sorted((DEPLOY / "docs").rglob("*.md")),
    ],
    DEPLOY,
    "/provider-os/",
)
# Our own manifests (rendered from our charts) start our images the same way.
REPO = Path(__file__).resolve().parents[3]
OUR_LINES = manifest_lines(sorted((REPO / "manifests").rglob("*.yaml")), REPO, "osk8s/")


def test_every_provider_os_container_was_found() -> None:
    found = {(where, binary) for where, binary, _ in MANIFEST_LINES}
    assert {binary for _, binary in found} == {
        CINDER,
        MANILA,
        OCCM,
        "barbican-kms-plugin",
        "k8s-keystone-auth",
        "octavia-ingress-controller",
    }
    assert len(MANIFEST_LINES) == 10  # 2 cinder, 2 manila, 2 OCCM, 2 barbican, keystone, octavia


@pytest.mark.parametrize(
    ("where", "binary", "argv"), MANIFEST_LINES, ids=[f"{w}:{b}" for w, b, _ in MANIFEST_LINES]
)
def test_manifest_args_line_parses(where: str, binary: str, argv: list[str]) -> None:
    ns, warnings = parse(binary, argv)
    assert warnings == "", where
    if binary == "barbican-kms-plugin":
        assert ns.socketpath == "/kms/kms.sock" and ns.cloud_config.startswith("/etc/")
    if binary == "k8s-keystone-auth":
        assert (
            ns.tls_cert_file == "/etc/pki/tls.crt" and ns.policy_configmap_name == "k8s-auth-policy"
        )
    if binary == "octavia-ingress-controller":
        assert ns.config == "/etc/config/octavia-ingress-controller-config.yaml"
    if binary == CINDER:
        assert ns.endpoint == "unix://csi/csi.sock" and ns.cloud_config == [
            "/etc/config/cloud.conf"
        ]
        assert ns.verbosity == 1
    if binary == MANILA:
        assert ns.endpoint.startswith("unix:///var/lib/kubelet/plugins/manila.csi.openstack.org/")
        assert ns.share_protocol_selector == "SHARE-PROTOCOL"
    if binary == OCCM:
        assert ns.cloud_config == "/etc/config/cloud.conf" and ns.cluster_name == "kubernetes"
        assert ns.bind_address == "127.0.0.1" and ns.verbosity == 1


# Chart renders (no helm here): default values with every optional branch on, by template line.
CHART_LINES: list[tuple[str, str, list[str]]] = [
    (
        CINDER_C + "controllerplugin-deployment.yaml:168-190",
        CINDER,
        [
            "-v=2",
            "--endpoint=unix://csi/csi.sock",
            "--cloud-config=/etc/config/cloud.conf",
            "--cluster=kubernetes",
            "--provide-node-service=false",
            "--http-endpoint=:8080",
            "--pvc-annotations",
        ],
    ),
    (
        CINDER_C + "nodeplugin-daemonset.yaml:90-105",
        CINDER,
        [
            "-v=2",
            "--endpoint=unix://csi/csi.sock",
            "--provide-controller-service=false",
            "--cloud-config=/etc/config/cloud.conf",
        ],
    ),
    (
        MANILA_C + "controllerplugin-statefulset.yaml:88-108",
        MANILA,
        shlex.split(
            "-v=2 --with-topology --runtime-config-file=/runtimeconfig/runtimeconfig.json"
            " --endpoint=unix:///var/lib/kubelet/plugins/nfs.manila.csi.openstack.org/csi-controllerplugin.sock"
            " --drivername=nfs.manila.csi.openstack.org --share-protocol-selector=NFS"
            " --fwdendpoint=unix:///var/lib/kubelet/plugins/csi-nfsplugin/csi.sock"
            ' --compatibility-settings=x --cluster-id="" --pvc-annotations'
        ),
    ),
    (
        MANILA_C + "nodeplugin-daemonset.yaml:52-66",
        MANILA,
        shlex.split(
            "-v=2 --runtime-config-file=/runtimeconfig/runtimeconfig.json --with-topology"
            " --endpoint=unix:///var/lib/kubelet/plugins/nfs.manila.csi.openstack.org/csi.sock"
            " --drivername=nfs.manila.csi.openstack.org --share-protocol-selector=NFS"
            " --fwdendpoint=unix:///var/lib/kubelet/plugins/csi-nfsplugin/csi.sock"
            ' --cluster-id=""'
        ),
    ),
    (
        OCCM_C + "daemonset.yaml:53-70 (+ values.yaml:99 example)",
        OCCM,
        [
            "--v=2",
            "--cloud-config=/etc/config/cloud.conf",
            "--cluster-name=kubernetes",
            "--cloud-provider=openstack",
            "--use-service-account-credentials=false",
            "--controllers=cloud-node,cloud-node-lifecycle,route,service",
            "--bind-address=127.0.0.1",
            "--cluster-name=my-cluster",
        ],
    ),
    (
        "capo config/manager/manager.yaml (capo.md §4)",
        "capo-controller-manager",
        [
            "--leader-elect",
            "--diagnostics-address=127.0.0.1:8080",
            "--insecure-diagnostics=true",
            "--v=2",
            "--feature-gates=PriorityQueue=true,AutoScaleFromZero=false",
        ],
    ),
]


@pytest.mark.parametrize(
    ("where", "binary", "argv"), CHART_LINES, ids=[w for w, _, _ in CHART_LINES]
)
def test_chart_args_line_parses(where: str, binary: str, argv: list[str]) -> None:
    ns, warnings = parse(binary, argv)
    assert warnings == "", where
    assert ns.verbosity == 2
    if binary == MANILA:
        assert (
            ns.with_topology is True and ns.cluster_id == "" and ns.share_protocol_selector == "NFS"
        )
    if binary == CINDER:
        assert ns.cloud_config == ["/etc/config/cloud.conf"]
    if binary == OCCM:
        assert ns.controllers == ["cloud-node", "cloud-node-lifecycle", "route", "service"]
        assert ns.cluster_name == "my-cluster"  # a later repeat of a string flag wins, as pflag
    if binary == "capo-controller-manager":
        # capo-controller-manager runs for real (no longer refused as not implemented); its
        # rendered release Deployment is parsed in tests/services/capo/test_capo_release.py
        assert ns.leader_elect is True and ns.insecure_diagnostics is True
        assert ns.diagnostics_address == "127.0.0.1:8080"


def test_cinder_settings_contract_holds_for_the_chart_controller_line() -> None:
    """E's ``settings_from_args`` reads the pflag-typed namespace unchanged."""
    ns, _ = parse(CINDER, [*CHART_LINES[0][2], "--additional-topology=rack=7", "--cloud-config=b"])
    settings = settings_from_args(ns)
    assert settings.cloud_config == ("/etc/config/cloud.conf", "b")
    assert settings.controller and not settings.node and settings.pvc_annotations
    assert settings.with_topology and settings.additional_topology == {"rack": "7"}
    assert settings.http_endpoint == ":8080" and settings.verbosity == 2
    assert settings.log.verbosity == 2 and settings.log.to_stderr


def test_manila_settings_contract_holds_for_the_chart_lines() -> None:
    """D's ``settings_from_args`` reads the chart's controller and node lines unchanged."""
    from osk8s_manila_csi.settings import settings_from_args as manila_settings

    lines = [argv for _, binary, argv in CHART_LINES if binary == MANILA]
    assert len(lines) == 2
    for argv in lines:
        settings = manila_settings(parse(MANILA, argv)[0])
        assert settings.protocol == "NFS" and settings.with_topology
        assert settings.fwd_endpoint == "unix:///var/lib/kubelet/plugins/csi-nfsplugin/csi.sock"
        assert settings.driver_name == "nfs.manila.csi.openstack.org"
        assert settings.controller and settings.node


@pytest.mark.parametrize(("where", "binary", "argv"), OUR_LINES, ids=[w for w, _, _ in OUR_LINES])
def test_our_manifests_args_lines_parse(where: str, binary: str, argv: list[str]) -> None:
    ns, warnings = parse(binary, argv)
    assert warnings == "", where
    assert isinstance(ns.verbosity, int)


def test_our_manifests_start_every_binary() -> None:
    assert {binary for _, binary, _ in OUR_LINES} >= set(PARSERS) - {"client-keystone-auth"}
