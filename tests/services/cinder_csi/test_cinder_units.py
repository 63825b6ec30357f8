"""Pure pieces of the cinder driver: options, flags, host commands, device names (the error ->
status table and in-flight locks are the core's: tests/core/grpc/test_grpc_csi.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from osk8s_cinder_csi import cli
from osk8s_cinder_csi import settings as flags
from osk8s_cinder_csi.devices import candidates
from osk8s_cinder_csi.mounter import DiskNotBlank, SystemMounter
from osk8s_cinder_csi.options import attach_limit, parse_bool, parse_topology
from osk8s_core import errors


def test_attach_limit_defaults_to_256_and_clamps() -> None:
    assert attach_limit(0) == 256  # unset: CPO's docs promise 256 (its code says 0)
    assert attach_limit(-3) == 256
    assert attach_limit(26) == 26
    assert attach_limit(1000) == 256


def test_parse_topology_and_bool() -> None:
    assert dict(parse_topology(["a=1,b=2", "c=3"])) == {"a": "1", "b": "2", "c": "3"}
    with pytest.raises(errors.ConfigError):
        parse_topology(["novalue"])
    assert parse_bool("T", flag="x") and not parse_bool("0", flag="x")
    with pytest.raises(errors.ConfigError):
        parse_bool("yes", flag="x")


def test_settings_from_flags() -> None:
    args = cli.build_parser().parse_args(
        [
            "--endpoint=unix:///csi/csi.sock",
            "--cloud-config=/etc/a.conf",
            "--cloud-config",
            "/etc/b.conf",
            "--cloud-name=east",
            "--cloud-name=west",
            "--cluster=c1",
            "--with-topology=false",
            "--additional-topology=rack=r1",
            "--pvc-annotations",
            "--nodeid=ignored",
        ]
    )
    settings = flags.settings_from_args(args)
    assert settings.cloud_config == ("/etc/a.conf", "/etc/b.conf")
    assert settings.cloud_names == ("east", "west")
    assert not settings.with_topology and settings.pvc_annotations
    assert settings.additional_topology == {"rack": "r1"}
    assert settings.deprecated == ("--nodeid",)


def test_controller_requires_cloud_config_but_node_does_not() -> None:
    parser = cli.build_parser()
    with pytest.raises(errors.ConfigError):
        flags.settings_from_args(parser.parse_args(["--endpoint=unix:///x.sock"]))
    node_only = parser.parse_args(
        ["--endpoint=unix:///x.sock", "--provide-controller-service=false"]
    )
    assert flags.settings_from_args(node_only).node


def test_main_reports_bad_flags() -> None:
    assert cli.main(["--endpoint=ftp://nowhere", "--cloud-config=/x"]) == 2


class RecordingRunner:
    """Records argv; answers from ``outputs`` by tool name; ``exits`` makes a tool fail with
    that exit status (as ``mounter.run`` does with check=True)."""

    def __init__(
        self, outputs: dict[str, str] | None = None, exits: dict[str, int] | None = None
    ) -> None:
        self.calls: list[list[str]] = []
        self.outputs = outputs or {}
        self.exits = exits or {}

    def __call__(self, argv: Sequence[str], *, check: bool = True) -> str:
        self.calls.append(list(argv))
        code = self.exits.get(argv[0], 0)
        if code and check:
            raise subprocess.CalledProcessError(code, list(argv), "", "blkid: error")
        return self.outputs.get(argv[0], "")


PROBE = ["blkid", "-p", "-s", "TYPE", "-s", "PTTYPE", "-o", "export", "/dev/vdb"]


def test_system_mounter_formats_only_when_blkid_finds_nothing() -> None:
    runner = RecordingRunner(exits={"blkid": 2})  # exit 2: no signature at all
    SystemMounter(runner=runner).format_and_mount("/dev/vdb", "/stage", "ext4", ["noatime"])
    assert runner.calls == [
        PROBE,
        ["mkfs.ext4", "-F", "-m0", "/dev/vdb"],
        ["mount", "-t", "ext4", "-o", "noatime", "/dev/vdb", "/stage"],
    ]


@pytest.mark.parametrize(
    ("outputs", "exits", "fs", "message"),
    [
        ({"blkid": "DEVNAME=/dev/vdb\nPTTYPE=gpt\n"}, {}, "ext4", "gpt partition table"),
        ({"blkid": "DEVNAME=/dev/vdb\nTYPE=ext4\n"}, {}, "xfs", "already holds a ext4"),
        ({"blkid": "DEVNAME=/dev/vdb\nTYPE=crypto_LUKS\n"}, {}, "ext4", "crypto_LUKS"),
        ({}, {"blkid": 4}, "ext4", "blkid exit 4"),  # a probe error is never "blank"
        ({"blkid": "DEVNAME=/dev/vdb\n"}, {}, "ext4", "unrecognised content"),
    ],
)
def test_system_mounter_never_formats_a_disk_that_may_hold_data(
    outputs: dict[str, str], exits: dict[str, int], fs: str, message: str
) -> None:
    runner = RecordingRunner(outputs, exits)
    with pytest.raises(DiskNotBlank, match=message):
        SystemMounter(runner=runner).format_and_mount("/dev/vdb", "/stage", fs, [])
    assert runner.calls == [PROBE]  # no mkfs, no mount


def test_system_mounter_keeps_existing_filesystem_and_grows_xfs() -> None:
    runner = RecordingRunner({"blkid": "DEVNAME=/dev/vdb\nTYPE=xfs\n", "findmnt": "xfs\n"})
    mounter = SystemMounter(runner=runner)
    mounter.format_and_mount("/dev/vdb", "/stage", "xfs", ["nouuid"])
    assert not any(c[0].startswith("mkfs") for c in runner.calls)
    assert runner.calls[-1] == ["mount", "-t", "xfs", "-o", "nouuid", "/dev/vdb", "/stage"]
    mounter.resize_fs("/dev/vdb", "/stage")
    assert runner.calls[-1] == ["xfs_growfs", "-d", "/stage"]


def test_system_mounter_mounts_ext3_as_ext4_without_formatting() -> None:
    runner = RecordingRunner({"blkid": "TYPE=ext3\n"})
    SystemMounter(runner=runner).format_and_mount("/dev/vdb", "/stage", "ext4", [])
    assert runner.calls == [PROBE, ["mount", "-t", "ext4", "/dev/vdb", "/stage"]]


def test_system_mounter_read_only_bind_remounts(tmp_path: Path) -> None:
    runner = RecordingRunner()
    SystemMounter(runner=runner).bind_mount("/stage", "/target", read_only=True)
    assert runner.calls == [
        ["mount", "--bind", "/stage", "/target"],
        ["mount", "-o", "remount,bind,ro", "/target"],
    ]


def test_system_mounter_reads_mountinfo(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    target = tmp_path / "with space"
    target.mkdir()
    escaped = str(target).replace(" ", "\\040")
    info.write_text(f"36 35 98:0 / {escaped} rw,noatime master:1 - ext4 /dev/vdb rw\n")
    mounter = SystemMounter(runner=RecordingRunner(), mountinfo=str(info))
    assert mounter.is_mounted(str(target))
    assert not mounter.is_mounted(str(tmp_path))


def test_device_candidates_match_cpo() -> None:
    vid = "0b0e6f5c-6a4b-4d53-9f55-3a0d1f2b7c11"
    assert candidates(vid) == [
        "virtio-0b0e6f5c-6a4b-4d53-9",
        f"virtio-{vid}",
        "scsi-0QEMU_QEMU_HARDDISK_0b0e6f5c-6a4b-4d53-9",
        f"scsi-0QEMU_QEMU_HARDDISK_{vid}",
        "wwn-0x0b0e6f5c6a4b4d539f553a0d1f2b7c11",
    ]
