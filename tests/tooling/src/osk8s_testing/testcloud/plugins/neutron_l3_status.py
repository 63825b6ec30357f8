"""A Neutron service plugin that reports floating IP status as an L3 agent (or OVN) would.

The test cloud runs no L3 agent, so nothing ever reports a floating IP up and it stays DOWN,
while controllers (CAPO, OCCM) wait for ACTIVE. This plugin listens for floating IP creates and
updates and sets the status the data plane would report: ACTIVE while the floating IP is
associated with a port, DOWN while it is not. It writes only the floating IP's status column.
"""

from typing import Any

from neutron_lib import constants
from neutron_lib.callbacks import events, registry, resources
from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.plugins import directory
from neutron_lib.services import base


def wanted_status(floatingip: dict[str, Any]) -> str:
    """ACTIVE when associated with a port, else DOWN (what an L3 agent reports)."""
    if floatingip.get("port_id"):
        return str(constants.FLOATINGIP_STATUS_ACTIVE)
    return str(constants.FLOATINGIP_STATUS_DOWN)


class FloatingIPStatusPlugin(base.ServicePluginBase):  # type: ignore[misc]
    """Keeps floating IP status in step with association; provides no API of its own."""

    supported_extension_aliases: list[str] = []

    def __init__(self) -> None:
        super().__init__()
        for event in (events.AFTER_CREATE, events.AFTER_UPDATE):
            registry.subscribe(self._floatingip_changed, resources.FLOATING_IP, event)

    def get_plugin_type(self) -> str:
        return "osk8s_fip_status"

    def get_plugin_description(self) -> str:
        return "osk8s test cloud: floating IP status as an L3 agent would report it"

    def _floatingip_changed(
        self, resource: str, event: str, trigger: Any, payload: events.DBEventPayload
    ) -> None:
        floatingip = payload.latest_state
        status = wanted_status(floatingip)
        if floatingip.get("status") == status:
            return
        l3 = directory.get_plugin(plugin_constants.L3)
        l3.update_floatingip_status(payload.context.elevated(), payload.resource_id, status)
        # The dict is what the API answers with: show the new status at once, like OVN does.
        floatingip["status"] = status
