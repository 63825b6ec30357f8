"""openstack-cloud-controller-manager's command line: every form pflag accepts, CPO's manifests
and chart unchanged, upstream's validation messages and exit codes."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from osk8s_ccm.cli import build_parser
from osk8s_ccm.options import (
    CcmOptions,
    OptionsError,
    enabled_controllers,
    options_from_args,
)

BIN = Path(sys.executable).parent / "openstack-cloud-controller-manager"
ALL = ("cloud-node", "cloud-node-lifecycle", "route", "service")

# The exact args of CPO's DaemonSet, static Pod and chart (cpo-deploy §2.3), env expanded.
MANIFEST_ARGS = [
    [
        "--v=1",
        "--cluster-name=kubernetes",
        "--cloud-config=/etc/config/cloud.conf",
        "--cloud-provider=openstack",
        "--use-service-account-credentials=false",
        "--bind-address=127.0.0.1",
    ],
    [
        "--v=1",
        "--cluster-name=kubernetes",
        "--cloud-config=/etc/config/cloud.conf",
        "--cloud-provider=openstack",
        "--use-service-account-credentials=true",
        "--bind-address=127.0.0.1",
    ],
    [
        "--v=2",
        "--cloud-config=/etc/config/cloud.conf",
        "--cluster-name=kubernetes",
        "--cloud-provider=openstack",
        "--use-service-account-credentials=false",
        "--controllers=cloud-node,cloud-node-lifecycle,route,service",
        "--bind-address=0.0.0.0",
    ],
]


def parse(*argv: str) -> CcmOptions:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    return options_from_args(parser.parse_args(list(argv)), user_agent="ua/1")


@pytest.mark.parametrize("argv", MANIFEST_ARGS)
def test_upstream_manifests_parse(argv: list[str]) -> None:
    options = parse(*argv)
    assert options.cloud_provider == "openstack"
    assert options.cloud_config == "/etc/config/cloud.conf"
    assert options.controllers == ALL
    assert options.log.verbosity in {1, 2}
    assert options.serving.secure_port == 10258


def test_defaults_are_upstreams() -> None:
    o = parse("--cloud-provider=openstack")
    assert o.cluster_name == "kubernetes"
    assert (o.configure_cloud_routes, o.allocate_node_cidrs, o.routes_wanted) == (
        True,
        False,
        False,
    )
    assert (o.periods.node_monitor, o.periods.node_status_update) == (5.0, 300.0)
    assert o.periods.route_reconciliation == 10.0
    le = o.leader_election
    assert (le.enabled, le.lease_duration, le.renew_deadline, le.retry_period) == (
        True,
        15.0,
        10.0,
        2.0,
    )
    assert (le.resource_name, le.resource_namespace) == ("cloud-controller-manager", "kube-system")
    assert (o.kube.qps, o.kube.burst) == (20.0, 30)
    assert o.serving.authorization_always_allow_paths == ("/healthz", "/readyz", "/livez")
    assert o.serving.bind_address == "0.0.0.0"
    assert o.concurrent_service_syncs == 1


@pytest.mark.parametrize(
    ("argv", "check"),
    [
        (["--leader-elect=false"], lambda o: not o.leader_election.enabled),
        (["--leader-elect"], lambda o: o.leader_election.enabled),
        (["-leader-elect=false"], lambda o: not o.leader_election.enabled),
        (["--leader_elect=false"], lambda o: not o.leader_election.enabled),
        (
            ["--leader-elect-lease-duration", "1m30s"],
            lambda o: o.leader_election.lease_duration == 90,
        ),
        (["--node-monitor-period=250ms"], lambda o: o.periods.node_monitor == 0.25),
        (["--node-status-update-frequency", "1h"], lambda o: o.periods.node_status_update == 3600),
        (["--route-reconciliation-period=1m"], lambda o: o.periods.route_reconciliation == 60),
        (["--secure-port", "0"], lambda o: o.serving.secure_port == 0),
        (["--secure-port=0x2852"], lambda o: o.serving.secure_port == 10322),
        (["-v", "4"], lambda o: o.log.verbosity == 4),
        (["-v=5"], lambda o: o.log.verbosity == 5),
        (["--v=3"], lambda o: o.log.verbosity == 3),
        (["-v6"], lambda o: o.log.verbosity == 6),
        (["--kube-api-qps=50", "--kube-api-burst", "100"], lambda o: o.kube.burst == 100),
        (
            ["--kubeconfig=/k", "--master=https://m:6443"],
            lambda o: o.kube.master == "https://m:6443",
        ),
        (["--user-agent=a,b", "--user-agent", "c"], lambda o: o.user_agent == ("a,b", "c")),
        (["--concurrent-service-syncs=4"], lambda o: o.concurrent_service_syncs == 4),
        (["--cluster-cidr=10.244.0.0/16,fd00::/56"], lambda o: o.cluster_cidr.count("/") == 2),
        (
            ["--authorization-always-allow-paths=/healthz,/metrics"],
            lambda o: o.serving.authorization_always_allow_paths == ("/healthz", "/metrics"),
        ),
        (
            ["--allocate-node-cidrs", "--configure-cloud-routes=true"],
            lambda o: o.routes_wanted,
        ),
        (
            ["--allocate-node-cidrs", "--configure-cloud-routes=false"],
            lambda o: not o.routes_wanted,
        ),
    ],
)
def test_flag_forms(argv: list[str], check: object) -> None:
    options = parse("--cloud-provider=openstack", *argv)
    assert callable(check) and check(options), argv


@pytest.mark.parametrize(
    ("selection", "enabled"),
    [
        (["*"], ALL),
        (["*", "-route"], ("cloud-node", "cloud-node-lifecycle", "service")),
        (["-route", "*"], ("cloud-node", "cloud-node-lifecycle", "service")),
        (["cloud-node"], ("cloud-node",)),
        (["cloud-node", "-cloud-node"], ("cloud-node",)),  # the first item naming it decides
        (["-service", "service", "*"], ("cloud-node", "cloud-node-lifecycle", "route")),
        ([], ()),
        (["service-lb-controller", "node-route-controller"], ("route", "service")),
        (["*", "-cloud-node-lifecycle-controller"], ("cloud-node", "route", "service")),
    ],
)
def test_controllers_selection(selection: list[str], enabled: tuple[str, ...]) -> None:
    assert enabled_controllers(selection) == enabled


def test_controllers_flag_repeated_and_comma_separated() -> None:
    o = parse("--cloud-provider=openstack", "--controllers=cloud-node", "--controllers", "route")
    assert o.controllers == ("cloud-node", "route")
    assert parse("--cloud-provider=openstack", "--controllers=").controllers == ()


def test_validation_collects_every_error_as_upstream() -> None:
    with pytest.raises(OptionsError) as caught:
        parse("--controllers=*,foo,-bar", "--concurrent-service-syncs=0")
    assert caught.value.errors == (
        "--cloud-provider cannot be empty",
        '"foo" is not in the list of known controllers',
        '"bar" is not in the list of known controllers',
        "--concurrent-service-syncs must be greater than 0",
    )
    assert str(caught.value).startswith("[--cloud-provider cannot be empty, ")
    with pytest.raises(OptionsError, match=r"^--cloud-provider cannot be empty$"):
        parse()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--leader-elect-lease-duration=5s"],
            "lease_duration must be greater than renew_deadline",
        ),
        (["--leader-elect-resource-lock=endpoints"], "only leases"),
        (["--tls-cert-file=/c"], "must be given together"),
        (["--bind-address=localhost"], "is not an IP"),
    ],
)
def test_invalid_values(argv: list[str], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        parse("--cloud-provider=openstack", *argv)


def test_flags_without_effect_are_accepted_and_named_in_a_warning() -> None:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    ns = parser.parse_args(
        [
            "--cloud-provider=openstack",
            "--profiling=false",
            "--webhooks=*",
            "--webhook-secure-port=10260",
            "--cert-dir=/var/run/kubernetes",
            "--tls-min-version=VersionTLS12",
            "--kube-api-content-type=application/json",
            "--cidr-allocator-type=RangeAllocator",
            "--enable-leader-migration",
            "--requestheader-client-ca-file=/ca",
            "--external-cloud-volume-plugin=openstack",
            "--controller-start-interval=1s",
            "--feature-gates=SomeGate=true",
            "--authentication-skip-lookup",
            "--authentication-token-webhook-cache-ttl=30s",
        ]
    )
    options = options_from_args(ns, user_agent="ua/1")
    assert options.serving.authentication_cache_ttl == 30
    warning = parser.warning_stream.getvalue()
    assert "accepted for compatibility, without effect here" in warning
    for flag in ("--profiling", "--webhooks", "--cert-dir", "--enable-leader-migration"):
        assert flag in warning
    assert "--feature-gates" not in warning


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_exit_codes_of_the_binary(tmp_path: Path) -> None:
    bad_flag = _run("--no-such-flag")
    assert bad_flag.returncode == 1
    assert "Error: unknown flag: --no-such-flag" in bad_flag.stderr
    empty = _run("--controllers=nope")
    assert empty.returncode == 1
    assert empty.stderr.strip() == (
        '[--cloud-provider cannot be empty, "nope" is not in the list of known controllers]'
    )
    # klog.Fatalf("Cloud provider could not be initialized: ...") exits 255 upstream.
    aws = _run("--cloud-provider=aws", "--secure-port=0")
    assert aws.returncode == 255
    assert 'Cloud provider could not be initialized: unknown cloud provider "aws"' in aws.stderr
    missing = _run("--cloud-provider=openstack", f"--cloud-config={tmp_path / 'none.conf'}")
    assert missing.returncode == 255
    assert "Cloud provider could not be initialized: " in missing.stderr
    assert "none.conf" in missing.stderr
    # CPO authenticates while it initialises the provider: no Keystone, no start.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    conf = tmp_path / "cloud.conf"
    conf.write_text(
        f"[Global]\nauth-url = http://127.0.0.1:{closed}/v3\nusername = u\n"
        "password = pw-not-logged-7f\ntenant-name = p\ndomain-name = Default\n"
    )
    down = _run("--cloud-provider=openstack", f"--cloud-config={conf}", "--secure-port=0")
    assert down.returncode == 255
    assert "Cloud provider could not be initialized: " in down.stderr
    assert "pw-not-logged-7f" not in down.stderr + down.stdout
    version = _run("--version")
    assert version.returncode == 0
    assert "openstack-cloud-controller-manager" in version.stdout


def test_leader_election_config_leaves_the_work_half_the_takeover_margin() -> None:
    config = parse("--cloud-provider=openstack").leader_election.config("me")
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15, 10, 2)
    assert config.stop_grace == 2.5  # (15 s - 10 s) / 2: stopped before anyone can take over
    short = parse(
        "--cloud-provider=openstack",
        "--leader-elect-lease-duration=3s",
        "--leader-elect-renew-deadline=2s",
        "--leader-elect-retry-period=500ms",
    )
    assert short.leader_election.config("me").stop_grace == 0.5
