"""use-clouds merging, the clouds.yaml search order, secure.yaml, and OS_* env on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osk8s_core.config import load_cloud_config
from osk8s_core.errors import ConfigError
from osk8s_core.secrets import SecretStr

CLOUDS = """
clouds:
  prod:
    auth:
      auth_url: https://yaml-keystone:5000/v3
      username: yaml-user
      password: yaml-pass
      project_name: yaml-proj
      project_domain_name: yaml-pdom
      user_domain_name: yaml-udom
    region_name: YamlRegion
    interface: internal
    cacert: /yaml/ca.pem
    cert: /yaml/cert.pem
    key: /yaml/key.pem
    identity_api_version: 3
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://k2/v3
      application_credential_id: yaml-acid
      application_credential_secret: yaml-acsecret
    profile: some-vendor
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(paths: list[Path], **kw: Any) -> Any:
    kw.setdefault("environ", {})
    kw.setdefault("search_dirs", [])
    return load_cloud_config(paths, **kw)


def test_clouds_yaml_fills_unset_keys_and_ini_wins(tmp_path: Path) -> None:
    clouds = write(tmp_path / "c" / "clouds.yaml", CLOUDS)
    conf = write(
        tmp_path / "cloud.conf",
        f"[Global]\nuse-clouds = true\nclouds-file = {clouds}\ncloud = prod\n"
        "region = IniRegion\npassword = ini-pass\n",
    )
    result = load([conf])
    auth = result.config.global_
    assert auth.region == "IniRegion"  # explicit INI value wins
    assert auth.password == SecretStr("ini-pass")
    assert auth.auth_url == "https://yaml-keystone:5000/v3"
    assert auth.username == "yaml-user"
    assert auth.project_name == "yaml-proj"
    assert auth.project_domain_name == "yaml-pdom"
    assert auth.user_domain_name == "yaml-udom"
    assert auth.endpoint_type == "internal"
    assert (auth.ca_file, auth.cert_file, auth.key_file) == (
        "/yaml/ca.pem",
        "/yaml/cert.pem",
        "/yaml/key.pem",
    )
    assert result.files == (conf, clouds)
    assert result.warnings == ()  # identity_api_version is expected and quiet


def test_explicit_endpoint_type_wins_over_clouds_interface(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", CLOUDS)
    conf = write(
        tmp_path / "cloud.conf",
        f"[Global]\nuse-clouds\nclouds-file = {clouds}\ncloud = prod\nos-endpoint-type = admin\n",
    )
    assert load([conf]).config.global_.endpoint_type == "admin"


def test_use_clouds_false_ignores_clouds_yaml(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", CLOUDS)
    conf = write(tmp_path / "cloud.conf", f"[Global]\nclouds-file = {clouds}\ncloud = prod\n")
    result = load([conf], search_dirs=[tmp_path])
    assert result.config.global_.auth_url is None
    assert result.files == (conf,)


def test_application_credential_entry_and_unused_keys_warned(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", CLOUDS)
    conf = write(
        tmp_path / "cloud.conf", f"[Global]\nuse-clouds=1\nclouds-file={clouds}\ncloud=appcred\n"
    )
    result = load([conf])
    auth = result.config.global_
    assert auth.application_credential_id == "yaml-acid"
    assert auth.application_credential_secret == SecretStr("yaml-acsecret")
    assert [(w.section, w.key) for w in result.warnings] == [("clouds.appcred", "profile")]


def test_named_global_sections_each_use_their_cloud(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", CLOUDS)
    conf = write(
        tmp_path / "cloud.conf",
        f'[Global "a"]\nuse-clouds = true\nclouds-file = {clouds}\ncloud = prod\n'
        f'[Global "b"]\nuse-clouds = true\nclouds-file = {clouds}\ncloud = appcred\n',
    )
    auth = load([conf]).config.auth
    assert auth["a"].username == "yaml-user"
    assert auth["b"].application_credential_id == "yaml-acid"
    assert auth["b"].username is None


def test_search_order_env_then_dirs_in_order(tmp_path: Path) -> None:
    first = write(tmp_path / "cwd" / "clouds.yaml", CLOUDS.replace("YamlRegion", "FromCwd"))
    write(tmp_path / "home" / "clouds.yaml", CLOUDS.replace("YamlRegion", "FromHome"))
    env_file = write(tmp_path / "env" / "mine.yaml", CLOUDS.replace("YamlRegion", "FromEnv"))
    conf = write(tmp_path / "cloud.conf", "[Global]\nuse-clouds = true\ncloud = prod\n")
    dirs = [tmp_path / "cwd", tmp_path / "home"]
    assert load([conf], search_dirs=dirs).config.global_.region == "FromCwd"
    assert load([conf], search_dirs=dirs[1:]).config.global_.region == "FromHome"
    env = {"OS_CLIENT_CONFIG_FILE": str(env_file)}
    assert load([conf], search_dirs=dirs, environ=env).config.global_.region == "FromEnv"
    # clouds-file beats the environment variable
    explicit = write(tmp_path / "cloud2.conf", f"[Global]\nclouds-file = {first}\n")
    assert load([conf, explicit], search_dirs=dirs, environ=env).config.global_.region == "FromCwd"


def test_default_search_dirs_are_cwd_home_etc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from osk8s_core.config import default_search_dirs

    monkeypatch.chdir(tmp_path)
    dirs = default_search_dirs({"HOME": "/home/x"})
    assert dirs == (tmp_path, Path("/home/x/.config/openstack"), Path("/etc/openstack"))


def test_secure_yaml_is_merged_over_clouds_yaml(tmp_path: Path) -> None:
    public = CLOUDS.replace("      password: yaml-pass\n", "")
    write(tmp_path / "d" / "clouds.yaml", public)
    secure = write(
        tmp_path / "d" / "secure.yaml", "clouds:\n  prod:\n    auth:\n      password: from-secure\n"
    )
    conf = write(tmp_path / "cloud.conf", "[Global]\nuse-clouds = true\ncloud = prod\n")
    result = load([conf], search_dirs=[tmp_path / "d"])
    assert result.config.global_.password == SecretStr("from-secure")
    assert result.config.global_.username == "yaml-user"
    assert secure in result.files


def test_unknown_cloud_lists_known_names(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", CLOUDS)
    conf = write(
        tmp_path / "cloud.conf", f"[Global]\nuse-clouds=true\nclouds-file={clouds}\ncloud=dev\n"
    )
    with pytest.raises(ConfigError) as info:
        load([conf])
    assert info.value.file == str(clouds)
    assert "appcred" in str(info.value) and "prod" in str(info.value)


def test_use_clouds_needs_a_cloud_name(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", "[Global]\nuse-clouds = true\n")
    with pytest.raises(ConfigError) as info:
        load([conf])
    assert (info.value.file, info.value.key) == (str(conf), "cloud")


def test_no_clouds_yaml_found(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", "[Global]\nuse-clouds = true\ncloud = prod\n")
    with pytest.raises(ConfigError, match=r"no clouds\.yaml was found"):
        load([conf], search_dirs=[tmp_path / "empty"])


def test_missing_explicit_clouds_file(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "cloud.conf",
        f"[Global]\nuse-clouds=1\ncloud=p\nclouds-file={tmp_path}/no.yaml\n",
    )
    with pytest.raises(ConfigError, match="not found") as info:
        load([conf])
    assert info.value.file == f"{tmp_path}/no.yaml"


def test_invalid_yaml_does_not_leak_content(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", "clouds:\n  p:\n    auth: {password: leaked-pw\n")
    conf = write(
        tmp_path / "cloud.conf", f"[Global]\nuse-clouds=1\ncloud=p\nclouds-file={clouds}\n"
    )
    with pytest.raises(ConfigError) as info:
        load([conf])
    assert "invalid YAML" in str(info.value)
    assert "leaked-pw" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_invalid_clouds_value_names_the_yaml_file(tmp_path: Path) -> None:
    clouds = write(tmp_path / "clouds.yaml", "clouds:\n  p:\n    interface: sideways\n")
    conf = write(
        tmp_path / "cloud.conf", f"[Global]\nuse-clouds=1\ncloud=p\nclouds-file={clouds}\n"
    )
    with pytest.raises(ConfigError) as info:
        load([conf])
    assert (info.value.file, info.value.key) == (str(clouds), "os-endpoint-type")


ENV = {
    "OS_AUTH_URL": "https://env/v3",
    "OS_USERNAME": "env-user",
    "OS_PASSWORD": "env-pass",
    "OS_PROJECT_NAME": "env-proj",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "EnvRegion",
    "OS_INTERFACE": "admin",
}


def test_env_is_ignored_unless_asked(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", "[Global]\nregion = r\n")
    auth = load([conf], environ=ENV).config.global_
    assert auth.auth_url is None and auth.password is None


def test_env_fills_unset_keys_when_asked(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", "[Global]\nregion = IniRegion\n")
    auth = load([conf], environ=ENV, auth_from_env=True).config.global_
    assert auth.region == "IniRegion"
    assert auth.auth_url == "https://env/v3"
    assert auth.password == SecretStr("env-pass")
    assert auth.project_name == "env-proj"
    assert auth.endpoint_type == "admin"


def test_env_alone_for_client_tools() -> None:
    auth = load([], environ=ENV, auth_from_env=True).config.global_
    assert (auth.username, auth.user_domain_name) == ("env-user", "Default")


def test_os_cloud_selects_a_clouds_yaml_entry(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)
    env = {"OS_CLOUD": "prod", "OS_REGION_NAME": "EnvRegion"}
    auth = load([], environ=env, auth_from_env=True, search_dirs=[tmp_path]).config.global_
    assert auth.username == "yaml-user"
    assert auth.region == "EnvRegion"  # env beats clouds.yaml


def test_process_environment_is_read_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_AUTH_URL", "https://proc/v3")
    auth = load_cloud_config([], auth_from_env=True, search_dirs=[]).config.global_
    assert auth.auth_url == "https://proc/v3"
