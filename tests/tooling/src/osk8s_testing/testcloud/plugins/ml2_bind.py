"""A Neutron ML2 mechanism driver that binds every port as OVS and marks it ACTIVE.

The test cloud has no agents and no data plane, so without a binding driver every port with a
host stays unbound and Nova boots fail with PortBindingFailed. This driver must never touch
anything but the binding of the port it is asked about. Like OVS and OVN it brings its trunk
driver along (created at initialize, before the trunk service plugin looks for one).
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from osk8s_testcloud_plugins import neutron_trunk


class BindAllMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Bind the first segment offered, for any host, with VIF type ovs."""

    def initialize(self) -> None:
        self._trunk_driver = neutron_trunk.AgentlessTrunkDriver.create()

    @property
    def connectivity(self) -> str:
        return str(portbindings.CONNECTIVITY_L2)

    def bind_port(self, context: api.PortContext) -> None:
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
