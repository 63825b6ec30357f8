"""Cluster rename (CPO §1.4.8): an LB this Service owns under an older ``--cluster-name``
gets the new name on its children first (monitor, pool, listener: name and tags), then on
itself (name and tags), so a crash half way is finished by the next sync (the LB still
carries the old name and is found by the ``load-balancer-id`` annotation).
"""

from __future__ import annotations

from typing import Any

from osk8s_ccm.octavia import naming
from osk8s_core.openstack.lb_children import LoadBalancerChildren
from osk8s_core.openstack.lb_updates import LoadBalancerUpdates
from osk8s_core.openstack.loadbalancers import LoadBalancers


def _new_tags(tags: list[str], old_lb: str, new_lb: str) -> list[str]:
    return [new_lb if t == old_lb else t for t in tags]


def rename_tree(
    lbs: LoadBalancers,
    children: LoadBalancerChildren,
    updates: LoadBalancerUpdates,
    lb: Any,
    *,
    old_cluster: str,
    new_cluster: str,
) -> Any:
    """Rename ``lb`` and its children from ``old_cluster`` to ``new_cluster``; returns the
    LB as it is afterwards."""
    old_lb = str(lb.name)
    new_lb = naming.renamed(old_lb, old_cluster, new_cluster)

    def renamed(name: str | None) -> str | None:
        return name.replace(old_lb, new_lb) if name and name.endswith(old_lb) else None

    pools = children.pools(lb.id)
    for pool in pools:
        monitor_id = getattr(pool, "health_monitor_id", None)
        if monitor_id:
            monitor = updates.get_health_monitor(monitor_id)
            new = renamed(monitor.name)
            if new:
                updates.update_health_monitor(lb.id, monitor_id, name=new, wait=False)
        new = renamed(pool.name)
        if new:
            updates.update_pool(lb.id, pool.id, name=new, wait=False)
    for listener in children.listeners(lb.id):
        new = renamed(listener.name)
        tags = list(listener.tags or [])
        if new or old_lb in tags:
            updates.update_listener(
                lb.id,
                listener.id,
                name=new or listener.name,
                tags=_new_tags(tags, old_lb, new_lb),
                wait=False,
            )
    tags = _new_tags(list(lb.tags or []), old_lb, new_lb)
    return lbs.update(lb.id, name=new_lb, tags=tags)
