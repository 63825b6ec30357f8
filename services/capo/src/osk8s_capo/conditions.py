"""v1beta2 conditions (``metav1.Condition``) on CAPO objects, and their type/reason names.

``set_condition`` keeps ``lastTransitionTime`` when the status did not change (as
``meta.SetStatusCondition``), so a reconcile that finds nothing new writes nothing new; a
message is truncated to a readable length. Condition types and reasons are CAPO's
(``api/v1beta2/conditions_consts.go``) so dashboards and ``kubectl wait`` carry over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from typing import Any, Final

from osk8s_core.redaction import scrub_text, truncate

READY: Final = "Ready"
PAUSED: Final = "Paused"
"""Beyond CAPO: the contract says SHOULD, CAPO never sets it."""
AUTHENTICATED: Final = "OpenStackAuthenticationSucceeded"
NETWORK_READY: Final = "NetworkReady"
ROUTER_READY: Final = "RouterReady"
SECURITY_GROUPS_READY: Final = "SecurityGroupsReady"
API_ENDPOINT_READY: Final = "APIEndpointReady"
FAILURE_DOMAINS_READY: Final = "FailureDomainsReady"
"""osk8s: Nova availability zones listed (CAPO folds a failure into Ready)."""
FOREIGN_LOAD_BALANCERS: Final = "ForeignLoadBalancers"
"""osk8s: load balancers on the cluster network that this controller did not make (OCCM's)."""
INSTANCE_READY: Final = "InstanceReady"

# Reasons (CAPO's where CAPO has one).
READY_REASON: Final = "Ready"
NOT_READY: Final = "NotReady"
PAUSED_REASON: Final = "Paused"
NOT_PAUSED: Final = "NotPaused"
AUTH_FAILED: Final = "OpenStackAuthenticationFailed"
OPENSTACK_ERROR: Final = "OpenStackError"
NETWORK_CREATE_FAILED: Final = "NetworkCreateFailed"
SUBNET_CREATE_FAILED: Final = "SubnetCreateFailed"
ROUTER_CREATE_FAILED: Final = "RouterCreateFailed"
SECURITY_GROUP_CREATE_FAILED: Final = "SecurityGroupCreateFailed"
API_ENDPOINT_CONFIG_FAILED: Final = "APIEndpointConfigFailed"
DELETING: Final = "Deleting"
DELETION_FAILED: Final = "DeletionFailed"
NOT_MANAGED: Final = "NotManaged"
FOUND: Final = "Found"
NONE_FOUND: Final = "NoneFound"

TRUE: Final = "True"
FALSE: Final = "False"
UNKNOWN: Final = "Unknown"

MESSAGE_LIMIT: Final = 1024

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(status: MutableMapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    """The condition of ``type_`` in ``status.conditions``, or None."""
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def is_true(status: MutableMapping[str, Any] | None, type_: str) -> bool:
    cond = find(status, type_)
    return cond is not None and cond.get("status") == TRUE


def set_condition(
    status: MutableMapping[str, Any],
    type_: str,
    state: bool | str,
    reason: str,
    message: str = "",
    *,
    generation: int | None = None,
    clock: Clock = utc_now,
) -> bool:
    """Set one condition in ``status["conditions"]``; True when anything changed.

    ``state``: a bool or "True"/"False"/"Unknown". The message is scrubbed of secrets and
    truncated; ``lastTransitionTime`` moves only when the status flips.
    """
    value = state if isinstance(state, str) else (TRUE if state else FALSE)
    text = truncate(scrub_text(message), MESSAGE_LIMIT)
    conditions: list[dict[str, Any]] = list(status.get("conditions") or [])
    wanted: dict[str, Any] = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": text,
    }
    if generation is not None:
        wanted["observedGeneration"] = generation
    for index, cond in enumerate(conditions):
        if cond.get("type") != type_:
            continue
        same = all(cond.get(k) == v for k, v in wanted.items())
        if same:
            return False
        moved = cond.get("status") != value
        wanted["lastTransitionTime"] = (
            rfc3339(clock()) if moved else cond.get("lastTransitionTime") or rfc3339(clock())
        )
        conditions[index] = wanted
        status["conditions"] = conditions
        return True
    wanted["lastTransitionTime"] = rfc3339(clock())
    conditions.append(wanted)
    status["conditions"] = conditions
    return True


def remove_condition(status: MutableMapping[str, Any], type_: str) -> bool:
    conditions = list(status.get("conditions") or [])
    kept = [c for c in conditions if c.get("type") != type_]
    if len(kept) == len(conditions):
        return False
    status["conditions"] = kept
    return True
