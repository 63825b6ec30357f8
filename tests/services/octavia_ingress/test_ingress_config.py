"""``--config``: CPO's YAML keys (openstack: in mapstructure spelling), viper's env override
and default file, clear errors, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osk8s_core.errors import ConfigError
from osk8s_octavia_ingress.cli import main
from osk8s_octavia_ingress.config import OPENSTACK_KEYS, load_config

FULL = {
    "cluster-name": "prod",
    "kubernetes": {"api-host": "https://127.0.0.1:6443", "kubeconfig": "/etc/kube.conf"},
    "openstack": {
        "auth-url": "https://keystone:5000/v3",
        "username": "ingress",
        "password": "s3cret-pass",
        "project-id": "p-1",
        "project-name": "proj",
        "project-domain-name": "Default",
        "user-domain-name": "Default",
        "region": "RegionTwo",
        "ca-file": "/etc/ca.pem",
        "tls-insecure": "true",
    },
    "octavia": {
        "subnet-id": "sub-1",
        "floating-network-id": "ext-1",
        "provider": "amphora",
        "flavor-id": "fl-1",
        "manage-security-groups": True,
        "provider-requires-serial-api-calls": "true",
    },
}


def write(tmp_path: Path, document: object, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path, FULL)), environ={})
    assert config.cluster_name == "prod"
    assert config.kubernetes.api_host == "https://127.0.0.1:6443"
    assert config.kubernetes.kubeconfig == "/etc/kube.conf"
    auth = config.openstack
    assert (auth.auth_url, auth.username, auth.region) == (
        "https://keystone:5000/v3",
        "ingress",
        "RegionTwo",
    )
    assert auth.password is not None and auth.password.reveal() == "s3cret-pass"
    assert (auth.project_id, auth.project_name, auth.project_domain_name) == (
        "p-1",
        "proj",
        "Default",
    )
    assert auth.user_domain_name == "Default" and auth.ca_file == "/etc/ca.pem"
    assert auth.tls_insecure is True
    octavia = config.octavia
    assert (octavia.subnet_id, octavia.floating_network_id, octavia.provider) == (
        "sub-1",
        "ext-1",
        "amphora",
    )
    assert octavia.flavor_id == "fl-1"
    assert octavia.manage_security_groups and octavia.provider_requires_serial_api_calls
    assert config.warnings == ()
    assert "s3cret-pass" not in repr(config)


def test_every_upstream_openstack_key_maps_to_a_core_option(tmp_path: Path) -> None:
    # Each YAML key of CPO's AuthOpts parses (the INI spelling differs for project-*).
    openstack = {key: "x" for key in OPENSTACK_KEYS if key not in ("use-clouds",)}
    openstack["tls-insecure"] = "false"
    openstack["os-endpoint-type"] = "internal"
    document = {"cluster-name": "c", "octavia": {"subnet-id": "s"}, "openstack": openstack}
    config = load_config(str(write(tmp_path, document)), environ={})
    assert config.openstack.trustee_id == "x" and config.openstack.application_credential_id == "x"
    assert config.openstack.project_domain_id == "x" and config.openstack.token is not None


def test_keys_are_case_insensitive_and_unknown_keys_warn(tmp_path: Path) -> None:
    document = {
        "Cluster-Name": "c",
        "OCTAVIA": {"Subnet-ID": "s", "typo-key": 1},
        "openstack": {"UserName": "u"},
    }
    config = load_config(str(write(tmp_path, document)), environ={})
    assert config.cluster_name == "c" and config.octavia.subnet_id == "s"
    assert config.openstack.username == "u"
    assert config.warnings == ("octavia.typo-key: unknown key, ignored",)


def test_environment_overrides_keys_present_in_the_file(tmp_path: Path) -> None:
    # viper AutomaticEnv without a prefix or replacer: the dotted key in upper case.
    path = write(tmp_path, FULL)
    env = {
        "OPENSTACK.PASSWORD": "from-env",
        "OCTAVIA.SUBNET-ID": "sub-env",
        "OCTAVIA.MANAGE-SECURITY-GROUPS": "false",
        "CLUSTER-NAME": "env-cluster",
        "OCTAVIA_SUBNET_ID": "not-a-viper-name",
    }
    config = load_config(str(path), environ=env)
    assert config.openstack.password is not None
    assert config.openstack.password.reveal() == "from-env"
    assert config.octavia.subnet_id == "sub-env"
    assert config.octavia.manage_security_groups is False
    assert config.cluster_name == "env-cluster"
    # A key absent from the file is not bound (viper only knows the file's keys).
    assert load_config(str(path), environ={"OCTAVIA.SOMETHING": "x"}).warnings == ()


def test_default_file_is_found_in_home(tmp_path: Path) -> None:
    write(tmp_path, FULL, ".ingress_openstack.yaml")
    config = load_config("", environ={"HOME": str(tmp_path)})
    assert config.file == str(tmp_path / ".ingress_openstack.yaml")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"octavia": {"subnet-id": "s"}}, "clusterName configuration is required"),
        ({"cluster-name": "c"}, "octavia.subnet-id"),
        (
            {"cluster-name": "c", "octavia": {"subnet-id": "s", "manage-security-groups": "maybe"}},
            "octavia.manage-security-groups",
        ),
        (
            {
                "cluster-name": "c",
                "octavia": {"subnet-id": "s"},
                "openstack": {"tls-insecure": "no?"},
            },
            "tls-insecure",
        ),
        (["a", "list"], "not a mapping"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(str(write(tmp_path, document)), environ={})


def test_use_clouds_fills_from_clouds_yaml(tmp_path: Path) -> None:
    clouds = {
        "clouds": {
            "mine": {
                "auth": {
                    "auth_url": "https://k/v3",
                    "username": "cu",
                    "password": "cp",
                    "project_name": "cproj",
                },
                "region_name": "R9",
            }
        }
    }
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    document = {
        "cluster-name": "c",
        "octavia": {"subnet-id": "s"},
        "openstack": {
            "use-clouds": True,
            "cloud": "mine",
            "username": "explicit",
            "clouds-file": str(tmp_path / "clouds.yaml"),
        },
    }
    config = load_config(str(write(tmp_path, document)), environ={})
    assert config.openstack.username == "explicit"  # explicit values win, as CPO
    assert config.openstack.project_name == "cproj" and config.openstack.region == "R9"


def test_missing_or_invalid_file_exits_1_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([f"--config={tmp_path / 'absent.yaml'}"]) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster-name: [unclosed\nopenstack:\n  password: hunter2\n")
    assert main([f"--config={bad}"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Failed to read config file" in text and "hunter2" not in text


def test_incomplete_credentials_exit_1_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {
        "cluster-name": "c",
        "octavia": {"subnet-id": "s"},
        "openstack": {"auth-url": "http://127.0.0.1:1/v3", "password": "pw-not-logged"},
    }
    assert main([f"--config={write(tmp_path, document)}"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "cannot start" in text and "pw-not-logged" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize("debug", [True, False])
def test_debug_flag_shows_debug_lines_only_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    document = {
        "cluster-name": "c-debug",
        "octavia": {"subnet-id": "s"},
        "openstack": {"auth-url": "http://127.0.0.1:1/v3", "password": "pw-not-logged"},
    }
    flags = ["--debug"] if debug else []
    assert main([*flags, f"--config={write(tmp_path, document)}"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Using config file" in text
    assert ("config read" in text) is debug
    assert ("c-debug" in text) is debug
    assert "pw-not-logged" not in text
