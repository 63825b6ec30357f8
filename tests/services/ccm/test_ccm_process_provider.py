"""The cloud provider as the process initialises it from cloud.conf and the environment
(§1.1/§1.2): HTTP timeout from ``[Metadata] request-timeout``, ``--user-agent``,
``OS_CCM_REGIONAL``, and the start-up errors. No request is made to OpenStack here."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import structlog

from osk8s_ccm.app import ProviderError, init_provider
from osk8s_ccm.ccm_metrics import CcmMetrics
from osk8s_ccm.cli import build_parser
from osk8s_ccm.instances import NodeRef
from osk8s_ccm.options import CcmOptions, options_from_args
from osk8s_core import __version__
from osk8s_core.errors import ConfigError, CredentialsError

GLOBAL = """[Global]
auth-url = http://127.0.0.1:9/v3
username = ccm
password = s3cret-value
tenant-name = demo
user-domain-name = Default
tenant-domain-name = Default
region = RegionTwo
"""


def options(*argv: str) -> CcmOptions:
    parser = build_parser()
    parser.warning_stream = io.StringIO()
    ns = parser.parse_args(["--cloud-provider=openstack", *argv])
    return options_from_args(ns, user_agent="test/1")


def conf(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "cloud.conf"
    path.write_text(GLOBAL + extra)
    return path


def provider(opts: CcmOptions, environ: dict[str, str] | None = None) -> Any:
    return init_provider(
        opts,
        metrics=CcmMetrics.create(),
        environ=environ or {},
        log=structlog.get_logger("test.ccm"),
    )


class OneServer:
    """A ``CloudLookup`` knowing one server (enough for the providerID format)."""

    def server(self, server_id: str) -> Any:
        from osk8s_ccm.cloud_view import ServerInfo

        return ServerInfo(id=server_id, name="n1", availability_zone="az-1")

    def server_ports(self, server_id: str) -> list[Any]:
        return []

    def flavor_name(self, flavor_id: str) -> str:
        return "m1"


def test_timeout_user_agent_and_region_from_the_config(tmp_path: Path) -> None:
    path = conf(tmp_path, "[Metadata]\nrequest-timeout = 7s\n")
    opts = options(f"--cloud-config={path}", "--user-agent=site-x/2", "--user-agent", "ops")
    made = provider(opts)
    session = made.openstack.connection.session
    assert session.timeout == 7.0
    # gophercloud's UserAgent.Prepend, as CPO uses it: extras in front, the last given first.
    assert session.user_agent.startswith(
        f"ops site-x/2 openstack-cloud-controller-manager/{__version__} "
    )
    assert made.config.global_.region == "RegionTwo"
    lookup: Any = OneServer()
    meta = made.instances.instance_metadata(lookup, NodeRef("n1", "openstack:///a-1"))
    assert meta.provider_id == "openstack:///a-1"
    assert meta.region == "RegionTwo"


def test_os_ccm_regional_puts_the_region_in_provider_ids(tmp_path: Path) -> None:
    opts = options(f"--cloud-config={conf(tmp_path)}")
    lookup: Any = OneServer()
    for value, expected in (("true", "openstack://RegionTwo/a-1"), ("1", "openstack:///a-1")):
        made = provider(opts, {"OS_CCM_REGIONAL": value})  # CPO compares with "true" only
        meta = made.instances.instance_metadata(lookup, NodeRef("n1", "a-1"))
        assert meta.provider_id == expected


def test_default_timeout_is_60s(tmp_path: Path) -> None:
    made = provider(options(f"--cloud-config={conf(tmp_path)}"))
    assert made.openstack.connection.session.timeout == 60.0


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ("[Metadata]\nsearch-order = nowhere\n", ConfigError, "search-order"),
        ("[LoadBalancer]\nlb-version = v1\n", ConfigError, "lb-version"),
    ],
)
def test_invalid_config_fails_the_provider(
    tmp_path: Path, extra: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        provider(options(f"--cloud-config={conf(tmp_path, extra)}"))


def test_unknown_provider_and_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match='unknown cloud provider "gce"'):
        provider(options("--cloud-provider=gce", f"--cloud-config={conf(tmp_path)}"))
    with pytest.raises(ProviderError, match="no OpenStack cloud provider config file given"):
        provider(options())
    incomplete = tmp_path / "incomplete.conf"
    incomplete.write_text("[Global]\nregion = RegionTwo\n")
    with pytest.raises(CredentialsError, match="no credentials"):
        provider(options(f"--cloud-config={incomplete}"))
