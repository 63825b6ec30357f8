"""Pure logic of the Manila driver: secrets -> credentials, StorageClass parameters and share
metadata, node volume contexts, export location choice and partner contexts, microversions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from osk8s_core.grpc.csi import FailedPrecondition, InvalidArgument, ObjectNotFound
from osk8s_core.openstack.share_api import VersionRange, parse_version
from osk8s_manila_csi.adapters import (
    CephfsAdapter,
    NfsAdapter,
    RuntimeConfig,
    choose_export_location,
    read_runtime_config,
)
from osk8s_manila_csi.affinity import pvc_hints
from osk8s_manila_csi.credentials import auth_from_secrets, read_secrets_dir
from osk8s_manila_csi.params import parse_node_context, parse_volume_params, share_metadata
from osk8s_testing.csi.fakes import RecordingPvcs

SECRET = "s3cr3t-value-never-shown"


@dataclass
class Loc:
    path: str
    is_preferred: bool = False
    is_admin: bool = False


@dataclass
class Rule:
    id: str
    access_type: str
    access_to: str
    access_key: str | None = None


@dataclass
class Share:
    id: str = "share-1"
    metadata: dict[str, str] | None = None


def test_secrets_map_to_credentials_and_hide_secrets() -> None:
    auth = auth_from_secrets(
        {
            "os-authURL": "https://keystone:5000/v3",
            "os-applicationCredentialID": "app-id",
            "os-applicationCredentialSecret": SECRET,
            "os-region": "R1",
            "os-endpointType": "internal",
            "os-TLSInsecure": "true",
            "os-certAuthority": "-----BEGIN CERTIFICATE-----",
            "other-key": "ignored",
        }
    )
    assert auth.auth_url == "https://keystone:5000/v3" and auth.region == "R1"
    assert auth.application_credential_id == "app-id" and auth.endpoint_type == "internal"
    assert auth.tls_insecure and auth.ca_data == "-----BEGIN CERTIFICATE-----"
    assert SECRET not in repr(auth)
    with pytest.raises(InvalidArgument, match="os-authURL"):
        auth_from_secrets({"os-password": SECRET})
    with pytest.raises(InvalidArgument) as bad:
        auth_from_secrets({"os-authURL": "u", "os-TLSInsecure": SECRET})
    assert SECRET not in str(bad.value)


def test_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "os-authURL").write_text("http://k/v3\n")
    (tmp_path / "..data").mkdir()
    (tmp_path / ".hidden").write_text("x")
    assert read_secrets_dir(str(tmp_path)) == {"os-authURL": "http://k/v3"}


def test_storage_class_parameters() -> None:
    params = parse_volume_params(
        {
            "type": "gold",
            "autoTopology": "true",
            "cephfs-mounter": "kernel",
            "cephfs-clientID": "a, b",
            "cephfs-kernelMountOptions": "noatime",
            "appendShareMetadata": '{"k": "v", "csi.storage.k8s.io/pvc/name": "evil"}',
            "csi.storage.k8s.io/pvc/name": "p",
            "csi.storage.k8s.io/pvc/namespace": "ns",
        }
    )
    assert params.share_type == "gold" and params.auto_topology
    assert params.cephfs_client_ids == ("a", "b") and params.nfs_clients == ("0.0.0.0/0",)
    assert params.node_context == {
        "cephfs-mounter": "kernel",
        "cephfs-kernelMountOptions": "noatime",
    }
    assert share_metadata(params, cluster_id="c1") == {
        "k": "v",
        "csi.storage.k8s.io/pvc/name": "p",
        "csi.storage.k8s.io/pvc/namespace": "ns",
        "manila.csi.openstack.org/cluster": "c1",
    }
    assert parse_volume_params({}).share_type == "default"
    for bad in (
        {"nope": "1"},
        {"autoTopology": "maybe"},
        {"cephfs-mounter": "nfs"},
        {"appendShareMetadata": "[1]"},
        {"appendShareMetadata": "{"},
    ):
        with pytest.raises(InvalidArgument):
            parse_volume_params(bad)


def test_node_context() -> None:
    ctx = parse_node_context({"shareID": "s", "shareAccessID": "r1"})
    assert ctx.access_ids == ("r1",) and ctx.cephfs_mounter == "fuse"
    assert parse_node_context({"shareName": "n", "shareAccessIDs": "r1,r2"}).access_ids == (
        "r1",
        "r2",
    )
    for bad in ({}, {"shareID": "a", "shareName": "b"}, {"shareID": "a", "cephfs-mounter": "x"}):
        with pytest.raises(InvalidArgument):
            parse_node_context(bad)


def test_export_location_choice() -> None:
    locations = [
        Loc("11.0.0.11:/p", is_admin=True, is_preferred=True),
        Loc(""),
        Loc("10.0.0.20:/p"),
        Loc("10.0.0.10:/p", is_preferred=True),
    ]
    host = lambda p: p.split(":")[0]  # noqa: E731
    assert choose_export_location(locations) == "10.0.0.10:/p"
    assert choose_export_location(locations[2:3]) == "10.0.0.20:/p"
    assert choose_export_location(locations, match_address="10.0.0.20", host_of=host) == (
        "10.0.0.20:/p"
    )
    assert choose_export_location(locations, match_address="10.0.0.0/28", host_of=host) == (
        "10.0.0.10:/p"
    )
    with pytest.raises(FailedPrecondition, match=r"192\.0\.2\.0/24"):
        choose_export_location(locations, match_address="192.0.2.0/24", host_of=host)


def test_partner_contexts() -> None:
    node = parse_node_context({"shareID": "share-1", "cephfs-fuseMountOptions": "debug"})
    nfs = NfsAdapter().partner_volume(
        Share(), [Loc("10.0.0.10:/a/b", is_preferred=True)], [], node, RuntimeConfig()
    )
    assert nfs.context == {"server": "10.0.0.10", "share": "/a/b"} and nfs.secrets == {}
    rules = [Rule("r0", "ip", "0.0.0.0/0"), Rule("r1", "cephx", "alice", "KEY")]
    ceph = CephfsAdapter().partner_volume(
        Share(metadata={"__mount_options": "fs=cephfs2,other=1"}),
        [Loc("m1:6789,m2:6789:/volumes/_nogroup/x")],
        rules,
        node,
        RuntimeConfig(),
    )
    assert ceph.context == {
        "monitors": "m1:6789,m2:6789",
        "rootPath": "/volumes/_nogroup/x",
        "mounter": "fuse",
        "provisionVolume": "false",
        "fuseMountOptions": "debug",
        "fsName": "cephfs2",
    }
    assert ceph.secrets == {"userID": "alice", "userKey": "KEY"}
    keyless = [Rule("r1", "cephx", "alice")]
    with pytest.raises(FailedPrecondition, match="no cephx access rule"):
        CephfsAdapter().partner_volume(Share(), [Loc("m:/v")], keyless, node, RuntimeConfig())
    assert [
        r.access_to for r in CephfsAdapter().wanted_rules(parse_volume_params({}), "pvc-1")
    ] == ["pvc-1"]


def test_runtime_config(tmp_path: Path) -> None:
    path = tmp_path / "rc.json"
    assert read_runtime_config(str(path)) == RuntimeConfig()
    path.write_text('{"nfs": {"matchExportLocationAddress": "10.0.0.0/8"}}')
    assert read_runtime_config(str(path)).nfs_match_address == "10.0.0.0/8"
    path.write_text("{")
    with pytest.raises(FailedPrecondition):
        read_runtime_config(str(path))


def test_microversion_range() -> None:
    server = VersionRange(minimum=(2, 0), maximum=(2, 40))
    assert parse_version("2.37") == (2, 37)
    assert server.allows("2.37") and not server.allows("2.65")
    assert not VersionRange(minimum=(2, 38), maximum=(2, 90)).allows("2.37")


def test_secrets_with_clouds_yaml(tmp_path: Path) -> None:
    """``os-useClouds``: the named entry of ``os-cloudsFile`` fills what the secret leaves
    unset (explicit keys win), as CPO's clouds.yaml support."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n"
        "  mine:\n"
        "    auth:\n"
        "      auth_url: http://keystone.example:5000/v3\n"
        "      username: u\n"
        f"      password: {SECRET}\n"
        "      project_name: p\n"
        "      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
        "    region_name: R9\n"
    )
    auth = auth_from_secrets(
        {
            "os-useClouds": "true",
            "os-cloudsFile": str(clouds),
            "os-cloud": "mine",
            "os-region": "R1",
        }
    )
    assert auth.auth_url == "http://keystone.example:5000/v3" and auth.username == "u"
    assert auth.region == "R1"  # the secret's own key wins
    assert auth.password is not None and SECRET not in repr(auth)


class _NamedShares:
    """The one lookup ``pvc_hints`` makes: a share by name."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids

    def find_by_name(self, name: str) -> Share | None:
        return Share(id=self.ids[name]) if name in self.ids else None


def test_pvc_annotations_map_to_scheduler_hints() -> None:
    """affinity → ``same_host``, anti-affinity → ``different_host`` (names resolved to ids,
    UUIDs kept), raw values into the volume context; group-id overrides ``groupID``."""
    other = "0b7c3f5e-1111-4222-8333-444455556666"
    manila = cast(Any, SimpleNamespace(shares=_NamedShares({"db-a": "id-a", "db-b": "id-b"})))
    params = parse_volume_params(
        {
            "groupID": "sc-group",
            "csi.storage.k8s.io/pvc/name": "data",
            "csi.storage.k8s.io/pvc/namespace": "apps",
        }
    )
    reader = RecordingPvcs(
        {
            "manila.csi.openstack.org/anti-affinity": f"db-a, {other}",
            "manila.csi.openstack.org/affinity": "db-b",
        }
    )
    hints = pvc_hints(manila, params, reader)
    assert reader.reads == [("apps", "data")]
    assert hints.scheduler_hints == {"different_host": f"id-a,{other}", "same_host": "id-b"}
    assert hints.context == {"antiAffinity": f"db-a, {other}", "affinity": "db-b"}
    assert hints.group_id == "sc-group"
    reader.value = {"manila.csi.openstack.org/group-id": "pvc-group"}
    assert pvc_hints(manila, params, reader).group_id == "pvc-group"
    reader.value = {"manila.csi.openstack.org/anti-affinity": "missing"}
    with pytest.raises(ObjectNotFound, match="missing"):
        pvc_hints(manila, params, reader)
