"""A Neutron trunk driver for the test cloud's ML2 ``osk8s_bind`` mechanism (no agents).

Neutron's trunk service plugin refuses to start unless a loaded driver handles trunks for the
configured mechanism drivers (OVS and OVN bring their own; ours had none). This one accepts
VLAN subports on the OVS-type ports ``osk8s_bind`` binds and marks a trunk ACTIVE once created
or changed, as OVN does; there is no data plane behind it.
"""

from typing import Any

from neutron.services.trunk.drivers import base as trunk_base
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events, registry, resources
from neutron_lib.services.trunk import constants as trunk_consts
from oslo_config import cfg

NAME = "osk8s_trunk"
MECHANISM = "osk8s_bind"


class AgentlessTrunkDriver(trunk_base.DriverBase):  # type: ignore[misc]
    """VLAN trunks on OVS-type ports, ACTIVE as soon as Neutron has recorded them."""

    @property
    def is_loaded(self) -> bool:
        try:
            return MECHANISM in cfg.CONF.ml2.mechanism_drivers
        except cfg.NoSuchOptError:
            return False

    @classmethod
    def create(cls) -> "AgentlessTrunkDriver":
        return cls(
            NAME,
            (portbindings.VIF_TYPE_OVS,),
            (trunk_consts.SEGMENTATION_TYPE_VLAN,),
            agent_type=None,
            can_trunk_bound_port=True,
        )

    # Re-marked: the base class's mark is on its own function, not on this override.
    @registry.receives(resources.TRUNK_PLUGIN, [events.AFTER_INIT])  # type: ignore[untyped-decorator]
    def register(self, resource: str, event: str, trigger: Any, payload: Any = None) -> None:
        super().register(resource, event, trigger, payload=payload)
        registry.subscribe(self._activate, resources.TRUNK, events.AFTER_CREATE)
        registry.subscribe(self._activate, resources.SUBPORTS, events.AFTER_CREATE)
        registry.subscribe(self._activate, resources.SUBPORTS, events.AFTER_DELETE)

    @staticmethod
    def _activate(resource: str, event: str, trigger: Any, payload: Any) -> None:
        # The newest trunk object is what the API answers with, so the answer shows ACTIVE.
        trunk = payload.latest_state
        trunk.update(status=trunk_consts.TRUNK_ACTIVE_STATUS)
