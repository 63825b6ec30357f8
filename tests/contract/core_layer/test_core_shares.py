"""Manila through the core layer: share create (idempotent), access rules, export
locations, extend with microversion 2.7, delete. Skipped unless the test cloud runs
Manila (``up all``)."""

from __future__ import annotations

import pytest

from osk8s_core.openstack.shares import AccessRuleSpec, Shares, ShareSpec

from .conftest import Cleanup, Core, require_service

pytestmark = pytest.mark.contract


def test_share_access_export_extend(core: Core, cleanup: Cleanup, name: str) -> None:
    require_service(core.conn, "sharev2", "shared-file-system")
    shares = Shares(core.client, waiter=core.waiter)
    spec = ShareSpec(name=name, size_gb=1, protocol="NFS")
    share = shares.create(spec)
    cleanup.add(lambda: shares.delete(share.id, wait=True))
    assert share.status == "available"
    assert shares.create(spec).id == share.id
    assert core.requests("share_create") == 1

    rule_spec = AccessRuleSpec("ip", "10.0.0.0/24", "rw")
    rule = shares.grant(share.id, rule_spec)
    assert rule.state == "active"
    assert shares.grant(share.id, rule_spec).id == rule.id
    assert [r.id for r in shares.access_rules(share.id)] == [rule.id]

    locations = shares.export_locations(share.id)
    assert locations and all(loc.path for loc in locations)

    assert shares.extend(share.id, 2).size == 2
    assert shares.extend(share.id, 2).size == 2
    assert core.requests("share_extend") == 1

    shares.revoke(share.id, rule.id)
    shares.revoke(share.id, rule.id)
    shares.delete(share.id, wait=True)
    assert shares.find_by_name(name) is None
