"""Flags and ``[KeyManager]`` parsing: what the plugin reads before touching Barbican."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from osk8s_barbican_kms.cli import build_parser
from osk8s_barbican_kms.formats import WriteFormat
from osk8s_barbican_kms.keyconfig import KeyIdsFromConfig
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_barbican_kms.options import HttpEndpoint, from_args, parse_http_endpoint
from osk8s_core.config import LoadResult, load_cloud_config
from osk8s_core.errors import ConfigError

from .kms_fakes import KEY_A, KEY_B, KEY_C

GLOBAL = "[Global]\nauth-url = http://127.0.0.1:5000/v3\nusername = u\npassword = p\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_key_ids_with_old_keys(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "cloud.conf",
        f"{GLOBAL}[KeyManager]\nkey-id = {KEY_B}\nold-key-id = {KEY_A}\nold-key-id = {KEY_C}\n",
    )
    ids = KeyIdsFromConfig([conf], loader=load_cloud_config)()
    assert ids == KeyIds(KEY_B, (KEY_A, KEY_C))
    assert ids.all == (KEY_B, KEY_A, KEY_C)


def test_write_format_defaults_to_cpo_aes_cbc(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", f"{GLOBAL}[KeyManager]\nkey-id = {KEY_A}\n")
    assert KeyIdsFromConfig([conf], loader=load_cloud_config)().write_format is (
        WriteFormat.AES_CBC
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("aes-cbc", WriteFormat.AES_CBC), ("envelope", WriteFormat.ENVELOPE), ("Envelope", "env")],
)
def test_write_format_values(tmp_path: Path, value: str, expected: object) -> None:
    conf = write(
        tmp_path / "cloud.conf",
        f"{GLOBAL}[KeyManager]\nkey-id = {KEY_A}\nwrite-format = {value}\n",
    )
    got = KeyIdsFromConfig([conf], loader=load_cloud_config)().write_format
    assert got is (WriteFormat.ENVELOPE if expected == "env" else expected)


def test_unknown_write_format_is_a_config_error(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "cloud.conf", f"{GLOBAL}[KeyManager]\nkey-id = {KEY_A}\nwrite-format = gcm\n"
    )
    with pytest.raises(ConfigError, match=r"write-format.*aes-cbc or envelope"):
        KeyIdsFromConfig([conf], loader=load_cloud_config)()


def test_missing_key_id_is_a_config_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", GLOBAL)
    with pytest.raises(ConfigError, match=r"\[KeyManager\].*key-id.*no key configured"):
        KeyIdsFromConfig([conf], loader=load_cloud_config)()


def test_overlong_key_id_is_a_config_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", f"{GLOBAL}[KeyManager]\nkey-id = {'k' * 256}\n")
    with pytest.raises(ConfigError, match="too long"):
        KeyIdsFromConfig([conf], loader=load_cloud_config)()


def test_config_is_reparsed_only_when_the_file_changes(tmp_path: Path) -> None:
    conf = write(tmp_path / "cloud.conf", f"{GLOBAL}[KeyManager]\nkey-id = {KEY_A}\n")
    loads: list[int] = []

    def loader(paths: object) -> LoadResult:
        loads.append(1)
        return load_cloud_config(paths)  # type: ignore[arg-type]

    source = KeyIdsFromConfig([conf], loader=loader)
    assert source().current == KEY_A
    assert source().current == KEY_A
    assert len(loads) == 1
    write(conf, f"{GLOBAL}[KeyManager]\nkey-id = {KEY_B}\nold-key-id = {KEY_A}\n")
    os.utime(conf, ns=(1, 1))  # make sure the change is visible even within one mtime tick
    assert source() == KeyIds(KEY_B, (KEY_A,))
    assert len(loads) == 2


def test_flags_are_cpo_compatible() -> None:
    args = build_parser().parse_args(
        ["--socketpath=/tmp/x.sock", "--cloud-config", "/etc/cloud.conf", "--http-endpoint=:9090"]
    )
    opts = from_args(args)
    assert opts.socket_path == "/tmp/x.sock"
    assert opts.cloud_config == "/etc/cloud.conf"
    assert opts.http_endpoint == HttpEndpoint("", 9090)
    assert opts.key_refresh_interval == 300.0


def test_refresh_interval_is_a_go_duration() -> None:
    args = build_parser().parse_args(
        ["--socketpath=s", "--cloud-config=c", "--key-refresh-interval=1m30s"]
    )
    assert from_args(args).key_refresh_interval == 90.0
    for bad in ("0", "soon", "-5s"):
        args = build_parser().parse_args(
            ["--socketpath=s", "--cloud-config=c", f"--key-refresh-interval={bad}"]
        )
        with pytest.raises(ConfigError, match="key-refresh-interval"):
            from_args(args)


def test_socketpath_and_cloud_config_are_required() -> None:
    with pytest.raises(ConfigError, match="--socketpath is required"):
        from_args(build_parser().parse_args(["--cloud-config=c"]))
    with pytest.raises(ConfigError, match="--cloud-config is required"):
        from_args(build_parser().parse_args(["--socketpath=s"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (":8080", HttpEndpoint("", 8080)),
        ("127.0.0.1:0", HttpEndpoint("127.0.0.1", 0)),
        ("[::1]:9", HttpEndpoint("::1", 9)),
    ],
)
def test_http_endpoint(text: str, expected: HttpEndpoint | None) -> None:
    assert parse_http_endpoint(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:99999", "host:http"])
def test_bad_http_endpoint(text: str) -> None:
    with pytest.raises(ConfigError, match="http-endpoint"):
        parse_http_endpoint(text)
