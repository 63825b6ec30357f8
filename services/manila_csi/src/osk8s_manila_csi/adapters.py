"""Protocol adapters (§3.4): which access rules a share gets, which export location the node
mounts, and what the partner node plugin (csi-driver-nfs, ceph-csi) is told.

NFS: one ``ip`` rw rule per ``nfs-shareClient`` entry; partner context ``server``/``share``.
CEPHFS: a ``cephx`` rw rule per client id, ready once Manila filled its access key; partner
context ``monitors``/``rootPath``/``mounter``/``provisionVolume=false`` (+ mount options,
``fsName``) and stage secrets ``userID``/``userKey``. Pure functions over Manila records.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from osk8s_core.grpc.csi import FailedPrecondition, InvalidArgument
from osk8s_core.openstack.shares import AccessRuleSpec
from osk8s_manila_csi.params import NodeContext, VolumeParams


@dataclass(frozen=True)
class RuntimeConfig:
    """``--runtime-config-file`` (JSON ``{"nfs":{"matchExportLocationAddress":"<CIDR|IP>"}}``)."""

    nfs_match_address: str = ""


def read_runtime_config(path: str) -> RuntimeConfig:
    """Read on use: the file is a mounted ConfigMap that may change while we run."""
    if not path:
        return RuntimeConfig()
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return RuntimeConfig()  # matches CPO: a missing runtime config means defaults
    except ValueError as exc:
        raise FailedPrecondition(f"runtime config {path} is not valid JSON") from exc
    nfs = data.get("nfs") or {} if isinstance(data, dict) else {}
    return RuntimeConfig(nfs_match_address=str(nfs.get("matchExportLocationAddress") or ""))


@dataclass(frozen=True)
class PartnerVolume:
    """What the partner node plugin receives instead of our context and secrets."""

    context: dict[str, str]
    secrets: dict[str, str]


class Adapter(Protocol):
    protocol: str
    rule_type: str

    def wanted_rules(self, params: VolumeParams, share_name: str) -> list[AccessRuleSpec]: ...

    def rule_ready(self, rule: Any) -> bool: ...

    def partner_volume(
        self,
        share: Any,
        locations: Sequence[Any],
        rules: Sequence[Any],
        node: NodeContext,
        runtime: RuntimeConfig,
    ) -> PartnerVolume: ...


def _address_matches(address: str, wanted: str) -> bool:
    try:
        host = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address == wanted
    try:
        return host in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


def choose_export_location(
    locations: Sequence[Any], *, match_address: str = "", host_of: Any = None
) -> str:
    """Skip admin-only and empty paths (and, with ``match_address``, others); the preferred
    one wins, else the first (as CPO)."""
    usable = [
        loc for loc in locations if getattr(loc, "path", "") and not getattr(loc, "is_admin", False)
    ]
    if match_address and host_of is not None:
        usable = [loc for loc in usable if _address_matches(host_of(loc.path), match_address)]
    if not usable:
        why = f" matching {match_address}" if match_address else ""
        raise FailedPrecondition(f"share has no usable export location{why}")
    preferred = [loc for loc in usable if getattr(loc, "is_preferred", False)]
    return str((preferred or usable)[0].path)


def _split_nfs(path: str) -> tuple[str, str]:
    server, sep, share = path.partition(":/")
    if not sep:
        raise FailedPrecondition(f"NFS export location {path!r} is not <server>:/<path>")
    return server, "/" + share


def _split_cephfs(path: str) -> tuple[str, str]:
    monitors, sep, root = path.rpartition(":/")
    if not sep or not monitors:
        raise FailedPrecondition(f"CephFS export location {path!r} is not <monitors>:/<path>")
    return monitors, "/" + root


def _selected(rules: Sequence[Any], node: NodeContext, rule_type: str) -> list[Any]:
    chosen = [r for r in rules if not node.access_ids or r.id in node.access_ids]
    return [r for r in chosen if str(r.access_type).lower() == rule_type]


class NfsAdapter:
    protocol = "NFS"
    rule_type = "ip"

    def wanted_rules(self, params: VolumeParams, share_name: str) -> list[AccessRuleSpec]:
        for client in params.nfs_clients:
            try:
                ipaddress.ip_network(client, strict=False)
            except ValueError as exc:
                raise InvalidArgument(
                    f"nfs-shareClient {client!r} is not an IP address or CIDR"
                ) from exc
        return [AccessRuleSpec("ip", client, "rw") for client in params.nfs_clients]

    def rule_ready(self, rule: Any) -> bool:
        return True

    def partner_volume(
        self,
        share: Any,
        locations: Sequence[Any],
        rules: Sequence[Any],
        node: NodeContext,
        runtime: RuntimeConfig,
    ) -> PartnerVolume:
        path = choose_export_location(
            locations,
            match_address=runtime.nfs_match_address,
            host_of=lambda p: _split_nfs(p)[0],
        )
        server, share_path = _split_nfs(path)
        return PartnerVolume(context={"server": server, "share": share_path}, secrets={})


class CephfsAdapter:
    protocol = "CEPHFS"
    rule_type = "cephx"

    def wanted_rules(self, params: VolumeParams, share_name: str) -> list[AccessRuleSpec]:
        ids = params.cephfs_client_ids or (share_name,)
        return [AccessRuleSpec("cephx", client, "rw") for client in ids]

    def rule_ready(self, rule: Any) -> bool:
        return bool(getattr(rule, "access_key", None))

    def partner_volume(
        self,
        share: Any,
        locations: Sequence[Any],
        rules: Sequence[Any],
        node: NodeContext,
        runtime: RuntimeConfig,
    ) -> PartnerVolume:
        monitors, root = _split_cephfs(choose_export_location(locations))
        usable = [r for r in _selected(rules, node, "cephx") if self.rule_ready(r)]
        if not usable:
            raise FailedPrecondition(f"share {share.id} has no cephx access rule with a key")
        rule = usable[0]
        context = {
            "monitors": monitors,
            "rootPath": root,
            "mounter": node.cephfs_mounter,
            "provisionVolume": "false",
        }
        if node.cephfs_kernel_options:
            context["kernelMountOptions"] = node.cephfs_kernel_options
        if node.cephfs_fuse_options:
            context["fuseMountOptions"] = node.cephfs_fuse_options
        fs_name = _fs_name(getattr(share, "metadata", None) or {})
        if fs_name:
            context["fsName"] = fs_name
        return PartnerVolume(
            context=context, secrets={"userID": str(rule.access_to), "userKey": rule.access_key}
        )


def _fs_name(metadata: dict[str, str]) -> str:
    """``fs=<name>`` out of the share's ``__mount_options`` metadata (CephFS back ends)."""
    for option in str(metadata.get("__mount_options", "")).split(","):
        key, sep, value = option.strip().partition("=")
        if sep and key == "fs":
            return value
    return ""


def adapter_for(protocol: str) -> Adapter:
    if protocol == "NFS":
        return NfsAdapter()
    if protocol == "CEPHFS":
        return CephfsAdapter()
    raise InvalidArgument(f"share protocol {protocol} not supported")
