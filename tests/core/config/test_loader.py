"""cloud.conf loading: every section and key, defaults, merging, warnings and errors."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from osk8s_core.config import (
    AuthOptions,
    BlockStorageOptions,
    CloudConfig,
    KeyManagerOptions,
    LoadBalancerClass,
    LoadBalancerOptions,
    MetadataOptions,
    NetworkingOptions,
    RouteOptions,
    load_cloud_config,
)
from osk8s_core.errors import ConfigError
from osk8s_core.secrets import SecretStr

ALL_GLOBAL = """
[Global]
auth-url = https://keystone.example:5000/v3
user-id = uid
username = bob
password = "p@ss;word"
tenant-id = pid
tenant-name = proj
trust-id = tid
trustee-id = trustee
trustee-password = tpass
domain-id = did
domain-name = dname
tenant-domain-id = pdid
tenant-domain-name = pdname
user-domain-id = udid
user-domain-name = udname
region = RegionOne
os-endpoint-type = internal
ca-file = /etc/ca.pem
tls-insecure = yes
cert-file = /etc/c.pem
key-file = /etc/c.key
token = tok-v4lue
use-clouds = false
clouds-file = /etc/clouds.yaml
cloud = mycloud
application-credential-id = acid
application-credential-name = acname
application-credential-secret = acsecret
"""


def load(tmp_path: Path, *texts: str, **kw: Any) -> Any:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"cloud{index}.conf"
        path.write_text(text)
        paths.append(path)
    return load_cloud_config(paths, environ={}, search_dirs=[], **kw)


def test_every_global_key(tmp_path: Path) -> None:
    auth = load(tmp_path, ALL_GLOBAL).config.global_
    assert auth == AuthOptions(
        auth_url="https://keystone.example:5000/v3",
        user_id="uid",
        username="bob",
        password=SecretStr("p@ss;word"),
        project_id="pid",
        project_name="proj",
        trust_id="tid",
        trustee_id="trustee",
        trustee_password=SecretStr("tpass"),
        domain_id="did",
        domain_name="dname",
        project_domain_id="pdid",
        project_domain_name="pdname",
        user_domain_id="udid",
        user_domain_name="udname",
        region="RegionOne",
        endpoint_type="internal",
        ca_file="/etc/ca.pem",
        tls_insecure=True,
        cert_file="/etc/c.pem",
        key_file="/etc/c.key",
        token=SecretStr("tok-v4lue"),
        use_clouds=False,
        clouds_file="/etc/clouds.yaml",
        cloud="mycloud",
        application_credential_id="acid",
        application_credential_name="acname",
        application_credential_secret=SecretStr("acsecret"),
    )
    for secret in ("p@ss;word", "tpass", "tok-v4lue", "acsecret"):
        assert secret not in repr(auth)
        assert secret not in str(auth)


def test_secrets_are_secretstr(tmp_path: Path) -> None:
    auth = load(tmp_path, ALL_GLOBAL).config.global_
    assert isinstance(auth.password, SecretStr)
    assert auth.password.reveal() == "p@ss;word"
    assert isinstance(auth.application_credential_secret, SecretStr)


def test_defaults_match_cpo(tmp_path: Path) -> None:
    config = load(tmp_path, "[Global]\nauth-url = https://k/v3\n").config
    assert config.global_.endpoint_type == "public"
    assert config.global_.tls_insecure is False
    assert config.global_.use_clouds is False
    lb = dataclasses.asdict(config.load_balancer)
    assert lb == {
        "enabled": True,
        "lb_version": "",
        "lb_provider": "amphora",
        "lb_method": "ROUND_ROBIN",
        "subnet_id": "",
        "member_subnet_id": "",
        "network_id": "",
        "floating_network_id": "",
        "floating_subnet_id": "",
        "floating_subnet": "",
        "floating_subnet_tags": "",
        "create_monitor": False,
        "monitor_delay": timedelta(seconds=5),
        "monitor_timeout": timedelta(seconds=3),
        "monitor_max_retries": 1,
        "monitor_max_retries_down": 3,
        "manage_security_groups": False,
        "internal_lb": False,
        "node_selector": "",
        "cascade_delete": True,
        "flavor_id": "",
        "availability_zone": "",
        "enable_ingress_hostname": False,
        "ingress_hostname_suffix": "nip.io",
        "default_tls_container_ref": "",
        "container_store": "barbican",
        "max_shared_lb": 2,
        "provider_requires_serial_api_calls": False,
    }
    assert config.metadata == MetadataOptions(
        search_order=("configDrive", "metadataService"), request_timeout=timedelta(seconds=60)
    )
    assert config.block_storage == BlockStorageOptions(0, False, False, False)
    assert config.networking == NetworkingOptions(False, (), (), "")
    assert config.route == RouteOptions("")
    assert config.key_manager == KeyManagerOptions("", (), "aes-cbc")
    assert dict(config.load_balancer_classes) == {}


def test_every_load_balancer_key(tmp_path: Path) -> None:
    text = """
[LoadBalancer]
enabled = false
lb-version = v2
lb-provider = ovn
lb-method = SOURCE_IP_PORT
subnet-id = sub
member-subnet-id = msub
network-id = net
floating-network-id = fnet
floating-subnet-id = fsub
floating-subnet = ~pub-.*
floating-subnet-tags = &a,b
create-monitor = true
monitor-delay = 1m30s
monitor-timeout = 10s
monitor-max-retries = 4
monitor-max-retries-down = 5
manage-security-groups = on
internal-lb = 1
node-selector = role=lb, edge
cascade-delete = no
flavor-id = flv
availability-zone = az1
enable-ingress-hostname = true
ingress-hostname-suffix = sslip.io
default-tls-container-ref = https://barbican/v1/containers/abc
container-store = external
max-shared-lb = 7
provider-requires-serial-api-calls = true
"""
    result = load(tmp_path, text)
    assert result.warnings == ()
    assert result.config.load_balancer == LoadBalancerOptions(
        enabled=False,
        lb_version="v2",
        lb_provider="ovn",
        lb_method="SOURCE_IP_PORT",
        subnet_id="sub",
        member_subnet_id="msub",
        network_id="net",
        floating_network_id="fnet",
        floating_subnet_id="fsub",
        floating_subnet="~pub-.*",
        floating_subnet_tags="&a,b",
        create_monitor=True,
        monitor_delay=timedelta(seconds=90),
        monitor_timeout=timedelta(seconds=10),
        monitor_max_retries=4,
        monitor_max_retries_down=5,
        manage_security_groups=True,
        internal_lb=True,
        node_selector="role=lb, edge",
        cascade_delete=False,
        flavor_id="flv",
        availability_zone="az1",
        enable_ingress_hostname=True,
        ingress_hostname_suffix="sslip.io",
        default_tls_container_ref="https://barbican/v1/containers/abc",
        container_store="external",
        max_shared_lb=7,
        provider_requires_serial_api_calls=True,
    )


def test_other_sections(tmp_path: Path) -> None:
    text = """
[LoadBalancerClass "internal"]
network-id = n1
subnet-id = s1
member-subnet-id = m1
[LoadBalancerClass "public"]
floating-network-id = f2
floating-subnet-id = fs2
floating-subnet = pub*
floating-subnet-tags = t
[BlockStorage]
node-volume-attach-limit = 60
rescan-on-resize = true
ignore-volume-az = true
ignore-volume-microversion = true
[Metadata]
search-order = metadataService
request-timeout = 2m
[Route]
router-id = r1
[Networking]
ipv6-support-disabled = true
public-network-name = pub1
public-network-name = pub2
internal-network-name = priv
address-sort-order = 10.0.0.0/8, 192.168.0.0/16
[KeyManager]
key-id = k3
old-key-id = k1
old-key-id = k2
write-format = envelope
"""
    config: CloudConfig = load(tmp_path, text).config
    assert dict(config.load_balancer_classes) == {
        "internal": LoadBalancerClass(network_id="n1", subnet_id="s1", member_subnet_id="m1"),
        "public": LoadBalancerClass(
            floating_network_id="f2",
            floating_subnet_id="fs2",
            floating_subnet="pub*",
            floating_subnet_tags="t",
        ),
    }
    assert config.block_storage == BlockStorageOptions(60, True, True, True)
    assert config.metadata == MetadataOptions(("metadataService",), timedelta(minutes=2))
    assert config.route.router_id == "r1"
    assert config.networking == NetworkingOptions(
        True, ("pub1", "pub2"), ("priv",), "10.0.0.0/8, 192.168.0.0/16"
    )
    assert config.key_manager == KeyManagerOptions("k3", ("k1", "k2"), "envelope")


def test_named_global_sections(tmp_path: Path) -> None:
    text = '[Global]\nregion = a\n[Global "east"]\nregion = e\n[global "west"]\nregion = w\n'
    config = load(tmp_path, text).config
    assert {name: auth.region for name, auth in config.auth.items()} == {
        "": "a",
        "east": "e",
        "west": "w",
    }


def test_later_file_wins_key_by_key(tmp_path: Path) -> None:
    first = "[Global]\nauth-url = https://a/v3\nregion = one\n[LoadBalancer]\nlb-method = X\n"
    second = "[global]\nREGION = two\n[LoadBalancer]\nsubnet-id = s\n"
    config = load(tmp_path, first, second).config
    assert config.global_.auth_url == "https://a/v3"  # kept from the first file
    assert config.global_.region == "two"  # overridden by the second
    assert config.load_balancer.lb_method == "X"
    assert config.load_balancer.subnet_id == "s"


def test_repeatable_keys_append_across_files_and_blank_clears(tmp_path: Path) -> None:
    first = "[Networking]\npublic-network-name = a\npublic-network-name = b\n"
    second = "[Networking]\npublic-network-name = c\n"
    assert load(tmp_path, first, second).config.networking.public_network_name == ("a", "b", "c")
    reset = "[Networking]\npublic-network-name\npublic-network-name = z\n"
    assert load(tmp_path, first, reset).config.networking.public_network_name == ("z",)


def test_single_key_repeated_last_wins(tmp_path: Path) -> None:
    assert load(tmp_path, "[Route]\nrouter-id = a\nrouter-id = b\n").config.route.router_id == "b"


def test_unknown_sections_and_keys_are_warned_and_logged(tmp_path: Path) -> None:
    text = (
        "[Global]\nregion = r\nkubeconfig-path = x\n[Mystery]\na = 1\n"
        "[LoadBalancer]\nlb-provider = acme\n"
    )
    with capture_logs() as logs:
        result = load(tmp_path, text)
    found = {(w.section, w.key, w.message, w.line) for w in result.warnings}
    assert found == {
        ("Global", "kubeconfig-path", "unknown key", 3),
        ("Mystery", None, "unknown section", 4),
        ("LoadBalancer", "lb-provider", "unknown provider", 7),
    }
    logged = {(e["section"], e["key"]) for e in logs if e["event"] == "config_warning"}
    assert logged == {
        ("Global", "kubeconfig-path"),
        ("Mystery", None),
        ("LoadBalancer", "lb-provider"),
    }
    assert all(e["log_level"] == "warning" for e in logs)
    assert result.config.global_.region == "r"  # the rest is still read


@pytest.mark.parametrize(
    ("text", "section", "key", "expected"),
    [
        ("[Global]\ntls-insecure = maybe\n", "Global", "tls-insecure", "boolean"),
        ("[LoadBalancer]\nmonitor-delay = 5\n", "LoadBalancer", "monitor-delay", "Go duration"),
        ("[LoadBalancer]\nmax-shared-lb = many\n", "LoadBalancer", "max-shared-lb", "integer"),
        ("[LoadBalancer]\nlb-version = v1\n", "LoadBalancer", "lb-version", "v2"),
        ("[Metadata]\nsearch-order = disk\n", "Metadata", "search-order", "configDrive"),
        ("[Global]\nos-endpoint-type = secret\n", "Global", "os-endpoint-type", "public"),
        (
            "[BlockStorage]\nnode-volume-attach-limit\n",
            "BlockStorage",
            "node-volume-attach-limit",
            "integer",
        ),
    ],
)
def test_invalid_values_name_file_section_key_expected(
    tmp_path: Path, text: str, section: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    error = info.value
    assert error.file == str(tmp_path / "cloud0.conf")
    assert (error.section, error.key) == (section, key)
    assert error.expected is not None and expected in error.expected
    assert str(tmp_path / "cloud0.conf") in str(error) and key in str(error)


def test_invalid_value_in_an_earlier_file_still_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[Global]\ntls-insecure = maybe\n", "[Global]\ntls-insecure = true\n")
    assert info.value.file == str(tmp_path / "cloud0.conf")


def test_invalid_secret_value_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[Global]\nos-endpoint-type = s3cr3t-value\n")
    assert "s3cr3t" not in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    with pytest.raises(ConfigError) as info:
        load_cloud_config([missing], environ={}, search_dirs=[])
    assert info.value.file == str(missing)
    assert "not found" in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[LoadBalancer "x"]\n', "takes no name"),
        ("[LoadBalancerClass]\nsubnet-id = s\n", "needs a name"),
    ],
)
def test_subsection_misuse(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load(tmp_path, text)


def test_files_read_are_reported(tmp_path: Path) -> None:
    result = load(tmp_path, "[Global]\n", "[Route]\n")
    assert result.files == (tmp_path / "cloud0.conf", tmp_path / "cloud1.conf")


@pytest.mark.parametrize(
    "cls",
    [
        AuthOptions,
        LoadBalancerOptions,
        LoadBalancerClass,
        BlockStorageOptions,
        MetadataOptions,
        RouteOptions,
        NetworkingOptions,
        KeyManagerOptions,
    ],
)
def test_every_field_documents_key_and_default(cls: type) -> None:
    for item in dataclasses.fields(cls):
        assert item.metadata.get("doc"), f"{cls.__name__}.{item.name} has no doc"
        assert "ini" in item.metadata
        assert item.default is not dataclasses.MISSING
    durations = [f for f in dataclasses.fields(cls) if isinstance(f.default, timedelta)]
    assert all(f.metadata["unit"] == "seconds" for f in durations)


def test_config_objects_are_frozen(tmp_path: Path) -> None:
    config = load(tmp_path, "[Global]\nregion = r\n").config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.global_.region = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.auth["new"] = AuthOptions()  # type: ignore[index]
