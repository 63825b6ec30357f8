"""meta_data.json parsing, the config drive source and the metadata service source."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from metadata_helpers import UUID, FakeBlockDevices, document, metadata_server

from osk8s_core.errors import MetadataError
from osk8s_core.metadata import (
    ConfigDriveSource,
    Device,
    MetadataServiceSource,
    parse_meta_data,
    sanitize_label_value,
)

META = "openstack/latest/meta_data.json"


def test_parse_keeps_needed_fields_and_sanitizes_az() -> None:
    md = parse_meta_data(document(), source="test")
    assert md.uuid == UUID
    assert (md.name, md.hostname) == ("worker-1", "worker-1.novalocal")
    assert md.availability_zone_raw == "Württemberg Test"
    assert md.availability_zone == "W-rttemberg-Test"
    assert md.devices[1] == Device(
        type="disk",
        bus="scsi",
        serial="6f4d2a1c-0000-4000-8000-000000000001",
        address="0:0:0:1",
        tags=("data",),
    )
    assert md.disk_by_serial("6f4d2a1c-0000-4000-8000-000000000001") is md.devices[1]
    assert md.disk_by_serial("other") is None


@pytest.mark.parametrize(
    "raw", [document(uuid=""), b'{"name": "x"}', b"[1]", b"not json", document(uuid=7)]
)
def test_parse_rejects_documents_without_uuid(raw: bytes) -> None:
    with pytest.raises(MetadataError):
        parse_meta_data(raw, source="test")


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("nova", "nova"),
        ("eu-de-1a", "eu-de-1a"),
        ("az_1.b", "az_1.b"),
        ("  zone one  ", "zone-one"),
        ("-._edge._-", "edge"),
        ("Zürich/Nord", "Z-rich-Nord"),
        ("", ""),
        ("ü", ""),
        ("a" * 62 + "-b", "a" * 62),  # cut at 63 leaves a trailing dash: trimmed
    ],
)
def test_sanitize_label_value(raw: str, label: str) -> None:
    assert sanitize_label_value(raw) == label


def test_config_drive_already_mounted_dir(tmp_path: Path) -> None:
    (tmp_path / META).parent.mkdir(parents=True)
    (tmp_path / META).write_bytes(document())
    devices = FakeBlockDevices(drive_files={})
    md = ConfigDriveSource(devices=devices, mounted_dir=tmp_path).fetch()
    assert (md.uuid, md.source) == (UUID, "configDrive")
    assert devices.calls == []  # no blkid, no mount


def test_config_drive_by_label_link_mounts_iso9660_readonly(tmp_path: Path) -> None:
    by_label = tmp_path / "by-label"
    by_label.mkdir()
    (by_label / "config-2").write_text("")
    devices = FakeBlockDevices(drive_files={META: document()})
    source = ConfigDriveSource(devices=devices, by_label_dir=by_label, temp_root=tmp_path)
    md = source.fetch()
    assert md.uuid == UUID
    kinds = [call[0] for call in devices.calls]
    assert kinds == ["mount", "umount"]  # the link was enough: no blkid
    assert devices.calls[0] == ("mount", str(by_label / "config-2"), "iso9660")
    assert devices.mounted == set()
    assert not list(tmp_path.glob("configdrive*"))  # temp mount point removed


def test_config_drive_blkid_fallback_and_vfat_after_iso9660(tmp_path: Path) -> None:
    devices = FakeBlockDevices(
        drive_files={META: document()}, blkid_device="/dev/sr0", working_fstypes=("vfat",)
    )
    source = ConfigDriveSource(devices=devices, by_label_dir=tmp_path / "none", temp_root=tmp_path)
    assert source.fetch().uuid == UUID
    assert [c for c in devices.calls if c[0] != "umount"] == [
        ("blkid", "config-2"),
        ("mount", "/dev/sr0", "iso9660"),
        ("mount", "/dev/sr0", "vfat"),
    ]


def test_config_drive_failures_are_metadata_errors(tmp_path: Path) -> None:
    none = tmp_path / "none"
    with pytest.raises(MetadataError, match="no device labelled config-2"):
        ConfigDriveSource(devices=FakeBlockDevices({}), by_label_dir=none).fetch()
    with pytest.raises(MetadataError, match="unable to run blkid"):
        ConfigDriveSource(devices=FakeBlockDevices({}, blkid_error=True), by_label_dir=none).fetch()
    unmountable = FakeBlockDevices({}, blkid_device="/dev/sr0", working_fstypes=())
    with pytest.raises(MetadataError, match=r"iso9660.*vfat"):
        ConfigDriveSource(devices=unmountable, by_label_dir=none, temp_root=tmp_path).fetch()
    empty_drive = FakeBlockDevices({"openstack/other": b""}, blkid_device="/dev/sr0")
    with pytest.raises(MetadataError, match="error reading"):
        ConfigDriveSource(devices=empty_drive, by_label_dir=none, temp_root=tmp_path).fetch()
    assert empty_drive.calls[-1][0] == "umount"  # unmounted even when reading failed
    assert not list(tmp_path.glob("configdrive*"))


def test_metadata_service_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy in the environment must be ignored (as CPO): this one does not exist.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with metadata_server(document()) as server:
        md = MetadataServiceSource(base_url=server.url + "/", timeout=5).fetch()
    assert (md.uuid, md.source) == (UUID, "metadataService")
    assert server.hits == ["/openstack/latest/meta_data.json"]


def test_metadata_service_errors() -> None:
    with metadata_server(b"gone", status=404) as server, pytest.raises(MetadataError, match="404"):
        MetadataServiceSource(base_url=server.url, timeout=5).fetch()
    empty = json.dumps({"uuid": ""}).encode()
    with metadata_server(empty) as server, pytest.raises(MetadataError, match="empty uuid"):
        MetadataServiceSource(base_url=server.url, timeout=5).fetch()
    with metadata_server(document(), delay=15) as server:
        start = time.monotonic()
        with pytest.raises(MetadataError, match="error fetching"):
            MetadataServiceSource(base_url=server.url, timeout=0.2).fetch()
        # The 0.2 s timeout ended it, not the server's 15 s (slack for a loaded machine).
        assert time.monotonic() - start < 5


def test_system_block_devices_turn_command_failures_into_oserror(tmp_path: Path) -> None:
    from osk8s_core.metadata import SystemBlockDevices

    # umount of a directory that is not a mount point fails harmlessly.
    with pytest.raises(OSError, match="umount"):
        SystemBlockDevices(timeout=5).unmount(tmp_path)
