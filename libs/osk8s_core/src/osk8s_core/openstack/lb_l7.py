"""Octavia L7 policies and their rules on a listener.

Labels ``loadbalancer_l7policy_create``/``_list``/``_update``/``_delete`` and
``loadbalancer_l7rule_create``/``_list``/``_delete``. A policy is idempotent by its name
within the listener (callers give every policy a stable, unique name), a rule by what it
matches (type, compare type, key, value, invert) within its policy. Every mutation waits for
the LB to be ACTIVE before it (Octavia answers 409 while a change is pending) and, when
asked, after it. Which policies a listener needs is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import single
from osk8s_core.openstack.lb_calls import LoadBalancerCalls

if TYPE_CHECKING:
    from openstack.load_balancer.v2.l7_policy import L7Policy
    from openstack.load_balancer.v2.l7_rule import L7Rule

    from osk8s_core.openstack.loadbalancers import LoadBalancers


@dataclass(frozen=True)
class L7RuleSpec:
    """One L7 rule; equal specs are the same rule."""

    rule_type: str
    """HOST_NAME, PATH, HEADER, COOKIE, FILE_TYPE, SSL_* ..."""
    compare_type: str
    """EQUAL_TO, STARTS_WITH, ENDS_WITH, CONTAINS, REGEX."""
    value: str
    key: str | None = None
    invert: bool = False

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "type": self.rule_type,
            "compare_type": self.compare_type,
            "value": self.value,
            "invert": self.invert,
        }
        if self.key is not None:
            attrs["key"] = self.key
        return attrs

    def matches(self, rule: object) -> bool:
        return (
            str(getattr(rule, "type", "")) == self.rule_type
            and str(getattr(rule, "compare_type", "")) == self.compare_type
            and str(getattr(rule, "rule_value", getattr(rule, "value", ""))) == self.value
            and (getattr(rule, "key", None) or None) == self.key
            and bool(getattr(rule, "invert", False)) == self.invert
        )


class L7Policies:
    """L7 policies and rules; shares the client and waits of ``lbs``."""

    def __init__(self, lbs: LoadBalancers) -> None:
        self._calls = LoadBalancerCalls(lbs)

    def policies(self, listener_id: str, **filters: Any) -> list[L7Policy]:
        calls = self._calls
        return calls.listing(
            "loadbalancer_l7policy_list", calls.api.l7_policies, listener_id=listener_id, **filters
        )

    def find_policy(self, listener_id: str, name: str) -> L7Policy | None:
        found = named(self.policies(listener_id, name=name), name)
        return single(found, what=f"L7 policies named {name!r} on listener {listener_id}")

    def create_policy(
        self,
        lb_id: str,
        listener_id: str,
        name: str,
        *,
        action: str,
        wait: bool = True,
        **attrs: Any,
    ) -> L7Policy:
        """A policy (``redirect_pool_id``, ``position``, ``description`` ... in ``attrs``);
        idempotent by name within the listener (a policy of that name is returned as is)."""
        return self._calls.create(
            lb_id,
            "loadbalancer_l7policy_create",
            self._calls.api.create_l7_policy,
            find=lambda: self.find_policy(listener_id, name),
            wait=wait,
            listener_id=listener_id,
            name=name,
            action=action,
            **attrs,
        )

    def update_policy(
        self, lb_id: str, policy_id: str, *, wait: bool = True, **attrs: Any
    ) -> L7Policy:
        update = self._calls.api.update_l7_policy
        return self._calls.update(
            lb_id, "loadbalancer_l7policy_update", update, policy_id, wait=wait, **attrs
        )

    def delete_policy(self, lb_id: str, policy_id: str, *, wait: bool = True) -> None:
        """Delete with its rules; a policy already gone is success."""
        delete = self._calls.api.delete_l7_policy
        self._calls.delete(lb_id, "loadbalancer_l7policy_delete", delete, policy_id, wait=wait)

    def rules(self, policy_id: str) -> list[L7Rule]:
        calls = self._calls
        return calls.listing("loadbalancer_l7rule_list", calls.api.l7_rules, policy_id)

    def find_rule(self, policy_id: str, spec: L7RuleSpec) -> L7Rule | None:
        found = [rule for rule in self.rules(policy_id) if spec.matches(rule)]
        return single(found, what=f"L7 rules like {spec} in policy {policy_id}")

    def create_rule(
        self, lb_id: str, policy_id: str, spec: L7RuleSpec, *, wait: bool = True
    ) -> L7Rule:
        """A rule in the policy; idempotent by what it matches."""
        return self._calls.create(
            lb_id,
            "loadbalancer_l7rule_create",
            self._calls.api.create_l7_rule,
            policy_id,
            find=lambda: self.find_rule(policy_id, spec),
            wait=wait,
            **spec.attributes(),
        )

    def delete_rule(self, lb_id: str, policy_id: str, rule_id: str, *, wait: bool = True) -> None:
        delete = self._calls.api.delete_l7_rule
        self._calls.delete(
            lb_id, "loadbalancer_l7rule_delete", delete, rule_id, policy_id, wait=wait
        )
