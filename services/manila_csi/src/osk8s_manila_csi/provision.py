"""The Manila side of CreateVolume/CreateSnapshot: get-or-create, wait, clean up a failure
and say why, grant access rules until usable.

A share or snapshot that goes to ``error`` is deleted (so the sidecar's retry starts fresh)
and reported with the code Manila's user message implies (§3.2). Access rules are granted
idempotently, waited for until ``active`` (and, for cephx, until the key is there); a rule
in ``error`` is a clear FAILED_PRECONDITION naming the rule, not a share that never mounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from osk8s_core import errors
from osk8s_core.grpc.csi import (
    CsiError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    ResourceExhausted,
)
from osk8s_core.openstack.idempotency import create_once, require_match
from osk8s_core.openstack.shares import AccessRuleSpec, ShareSpec
from osk8s_core.openstack.waiting import Waiter
from osk8s_manila_csi.adapters import Adapter
from osk8s_manila_csi.manila import GROUP_MICROVERSION, HINTS_MICROVERSION, Manila

SHARE_DESCRIPTION: Final = "provisioned-by=manila.csi.openstack.org"
SNAPSHOT_DESCRIPTION: Final = "snapshotted-by=manila.csi.openstack.org"

# Manila's user message detail ids (manila/message/message_field.py) -> our error kinds.
_DETAIL_ERRORS: Final[dict[str, type[CsiError]]] = {
    "002": ResourceExhausted,  # no valid host
    "003": InvalidArgument,  # share network given to a DHSS=False back end
    "004": InvalidArgument,  # no share server on that share network
    "007": InvalidArgument,  # availability zone filter
    "008": InvalidArgument,  # capabilities filter (share type)
    "009": ResourceExhausted,  # capacity filter
    "016": InvalidArgument,  # create-from-snapshot filter
}


def failure_error(manila: Manila, resource_id: str, what: str) -> CsiError:
    """The error to return for ``resource_id`` having gone to ``error``."""
    try:
        messages = manila.api.messages(resource_id)
    except errors.OpenStackError:
        messages = []
    if not messages:
        return Internal(f"{what} went into status error (Manila left no user message)")
    message = messages[0]
    kind = _DETAIL_ERRORS.get(message.detail_id, Internal)
    return kind(f"{what} went into status error: {message.text[:300]}")


def ensure_share(
    manila: Manila,
    spec: ShareSpec,
    *,
    snapshot_id: str | None,
    scheduler_hints: Mapping[str, str] | None = None,
) -> Any:
    """The share named ``spec.name``, created if missing, ``available``. An existing share of
    another size, protocol or source is AlreadyExists; one in ``error`` is deleted."""
    if scheduler_hints or spec.share_group_id:
        share = _create_with_hints(manila, spec, dict(scheduler_hints or {}))
    else:
        share = manila.shares.create(spec, wait=False)
    if snapshot_id and getattr(share, "snapshot_id", None) not in (None, snapshot_id):
        raise errors.AlreadyExists(f"share {spec.name!r} exists from another snapshot")
    try:
        return manila.shares.wait_available(share.id)
    except errors.ResourceError:
        error = failure_error(manila, share.id, f"share {share.id}")
        delete_share(manila, share.id, waiter=None)
        raise error from None


def delete_share(manila: Manila, share_id: str, *, waiter: Waiter | None) -> None:
    """Delete and wait until gone (in the group case only with a ``waiter``). A share of a
    share group needs the group id with the DELETE (Manila answers 400 otherwise); it is
    looked up only then, so the usual delete stays one request."""
    try:
        manila.shares.delete(share_id, wait=True)
        return
    except errors.BadRequest as exc:
        if "share_group_id" not in str(exc):
            raise
    group = str(manila.api.show(share_id, version=GROUP_MICROVERSION).get("share_group_id") or "")
    if not group:
        raise InvalidArgument(f"share {share_id}: Manila refused its deletion") from None
    manila.api.delete_in_group(share_id, group)
    if waiter is not None:  # None: a failed create's clean-up, which never waited for more
        waiter.until_gone(
            lambda: manila.shares.get(share_id),
            describe=f"share {share_id} deletion",
            failure=("error_deleting",),
        )


def _create_with_hints(manila: Manila, spec: ShareSpec, hints: dict[str, str]) -> Any:
    """POST at the microversion the request needs: 2.65 for scheduler hints, 2.31 for a
    share group (the SDK's default microversion silently drops ``share_group_id``)."""
    version = HINTS_MICROVERSION if hints else GROUP_MICROVERSION
    if not manila.versions.allows(version):
        top = ".".join(map(str, manila.versions.maximum))
        what = "PVC affinity annotations" if hints else "groupID (share groups)"
        raise InvalidArgument(f"{what} need Manila API {version}; the server has {top}")
    attributes = spec.attributes()
    attributes["share_proto"] = attributes.pop("share_protocol")
    wanted = {"size": spec.size_gb, "share_protocol": spec.protocol}

    def create() -> str:
        if hints:
            return manila.api.create_with_hints(attributes, hints)
        return manila.api.create_at(attributes, version=version)

    return create_once(
        find=lambda: manila.shares.find_by_name(spec.name),
        create=lambda: manila.shares.get(create()),
        check=lambda found: require_match(found, wanted, what=f"share {spec.name!r}"),
    )


def ensure_rules(
    manila: Manila, share_id: str, adapter: Adapter, specs: Sequence[AccessRuleSpec], waiter: Waiter
) -> list[Any]:
    """Every rule in ``specs`` on the share, usable; existing equal rules are reused, so a
    repeat adds only what is missing (several clients per share, CPO #2725)."""
    rules = []
    for spec in specs:
        label = f"access rule {spec.access_type}:{spec.access_to} on share {share_id}"
        try:
            rule = manila.shares.grant(share_id, spec, wait=True)
        except errors.ResourceError:
            raise FailedPrecondition(
                f"{label} went into status error; Manila says: {_rule_reason(manila, share_id)}"
            ) from None
        if not adapter.rule_ready(rule):
            rule = _wait_ready(manila, adapter, str(rule.id), waiter, label)
        rules.append(rule)
    return rules


def _wait_ready(manila: Manila, adapter: Adapter, rule_id: str, waiter: Waiter, label: str) -> Any:
    """Until the back end filled the rule in (cephx: its access key)."""
    return waiter.until(
        lambda: manila.shares.get_access_rule(rule_id),
        target="ready",
        failure=("error",),
        describe=f"access key of {label}",
        status_of=lambda r: "ready" if adapter.rule_ready(r) else str(r.state or ""),
    )


def _rule_reason(manila: Manila, share_id: str) -> str:
    try:
        messages = manila.api.messages(share_id)
    except errors.OpenStackError:
        return "no user message"
    return messages[0].text[:300] if messages else "no user message"


def ensure_snapshot(manila: Manila, name: str, share_id: str, *, wait: bool) -> Any:
    """The snapshot named ``name`` of ``share_id``; one in ``error`` is deleted and reported."""
    snapshot = manila.snapshots.create(name, share_id, description=SNAPSHOT_DESCRIPTION, wait=False)
    status = str(snapshot.status or "").lower()
    if (wait and status != "available") or status == "error":
        try:
            snapshot = manila.snapshots.wait_available(snapshot.id)
        except errors.ResourceError:
            error = failure_error(manila, snapshot.id, f"snapshot {snapshot.id}")
            manila.snapshots.delete(snapshot.id, wait=True)
            raise error from None
    return snapshot
