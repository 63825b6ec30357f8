"""An Octavia compute driver: noop amphorae whose ports are real Neutron ports.

Octavia's own noop compute driver returns nothing from attach (the LB goes to ERROR) and never
clears a port's device_id on detach (deletes hang in PENDING_DELETE). This subclass fixes just
those two calls against the local Neutron; there are still no amphora VMs.
"""

from types import SimpleNamespace
from typing import Any

from octavia.common import clients
from octavia.compute.drivers.noop_driver.driver import NoopComputeDriver


class NeutronPortsNoopComputeDriver(NoopComputeDriver):  # type: ignore[misc]
    """Noop amphorae; attach/detach set and clear the Neutron port's device_id."""

    def attach_network_or_port(
        self,
        compute_id: str,
        network_id: str | None = None,
        ip_address: str | None = None,
        port_id: str | None = None,
    ) -> SimpleNamespace:
        neutron: Any = clients.NeutronAuth.get_neutron_client().network
        owner = {"device_id": compute_id, "device_owner": "compute:nova"}
        if port_id:
            port = neutron.update_port(port_id, binding_host_id="osk8s", **owner)
        else:
            fixed = [{"ip_address": ip_address}] if ip_address else None
            extra = {"fixed_ips": fixed} if fixed else {}
            port = neutron.create_port(
                network_id=network_id, binding_host_id="osk8s", **owner, **extra
            )
        # Shaped like a novaclient interface: the network driver reads these three fields.
        return SimpleNamespace(
            port_id=port.id, net_id=port.network_id, fixed_ips=list(port.fixed_ips or [])
        )

    def detach_port(self, compute_id: str, port_id: str) -> None:
        neutron: Any = clients.NeutronAuth.get_neutron_client().network
        port = neutron.find_port(port_id, ignore_missing=True)
        if port is not None and port.device_id == compute_id:
            neutron.update_port(port_id, device_id="", device_owner="", binding_host_id="")
