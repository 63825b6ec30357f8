"""OCCM's controllers by name, with upstream's start conditions (k8s.io/cloud-provider's
``core.go``), as ``ControllerSpec``s for the manager.

``cloud-node`` and ``cloud-node-lifecycle`` are ``NodeControllers`` on the shared Node
informer. ``route`` and ``service`` live in their own modules and plug in through the same
factory signature, looked up by name when the process starts:

* ``osk8s_ccm.route_controller.build_route_controller(context) -> Runnable``
* ``osk8s_ccm.service_controller.build_service_controller(context) -> Runnable | None``

A module that is not in this build makes its controller unavailable: ``service`` is then
reported with a warning (never silently "running"); ``route``, when the flags and the cloud
ask for routes, stops the process at start-up with a clear message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final

import structlog

from osk8s_ccm.batch import SyncSnapshot
from osk8s_ccm.manager import ControllerContext, ControllerFactory, ControllerSpec, Runnable
from osk8s_ccm.node_controllers import NodeControllers, NodePeriods
from osk8s_ccm.nova_neutron import LiveLookup
from osk8s_ccm.options import CcmOptions

ROUTE_EXTENSIONS: Final = frozenset({"extraroute", "extraroute-atomic"})
# Event sources of upstream's controllers (EventSource.Component).
CLOUD_NODE_COMPONENT: Final = "cloud-node-controller"
LIFECYCLE_COMPONENT: Final = "cloud-node-lifecycle-controller"
ROUTE_PLUGIN: Final = ("osk8s_ccm.route_controller", "build_route_controller")
SERVICE_PLUGIN: Final = ("osk8s_ccm.service_controller", "build_service_controller")

_log = structlog.get_logger("osk8s.ccm.controllers")

Import = Callable[[str], Any]


def _nodes(context: ControllerContext, *, cloud_node: bool) -> Runnable:
    options = context.options
    cloud = context.nova_neutron
    component = CLOUD_NODE_COMPONENT if cloud_node else LIFECYCLE_COMPONENT
    return NodeControllers(
        api=context.core,
        list_nodes=context.core.list_node,
        instances=context.instances,
        lookup=lambda: LiveLookup(cloud),
        snapshot=lambda: SyncSnapshot.take(cloud),
        recorder=context.recorder(component),
        clock=context.clock,
        periods=NodePeriods(
            node_monitor=options.periods.node_monitor,
            status_update=options.periods.node_status_update,
        ),
        cloud_node=cloud_node,
        lifecycle=not cloud_node,
        informer=context.informers.nodes(),
        workers=options.concurrent_node_syncs,
    )


def cloud_node(context: ControllerContext) -> Runnable:
    return _nodes(context, cloud_node=True)


def cloud_node_lifecycle(context: ControllerContext) -> Runnable:
    return _nodes(context, cloud_node=False)


def routes_offered(context: ControllerContext) -> bool:
    """The cloud's Routes interface (CPO): ``[Route] router-id`` set and Neutron offering
    ``extraroute`` or ``extraroute-atomic`` (one ``network_extension_list``)."""
    if not context.cloud_config.route.router_id:
        return False
    return bool(ROUTE_EXTENSIONS & context.nova_neutron.networking.extensions())


def _route_gate(build: ControllerFactory) -> ControllerFactory:
    def start(context: ControllerContext) -> Runnable | None:
        options = context.options
        if not options.routes_wanted:
            _log.info(
                "will not configure cloud provider routes",
                allocate_node_cidrs=options.allocate_node_cidrs,
                configure_cloud_routes=options.configure_cloud_routes,
            )
            return None
        if not routes_offered(context):
            _log.warning(
                "--configure-cloud-routes is set, but cloud provider does not support routes. "
                "Will not configure cloud provider routes."
            )
            return None
        return build(context)

    return start


def _service_gate(build: ControllerFactory) -> ControllerFactory:
    def start(context: ControllerContext) -> Runnable | None:
        if not context.cloud_config.load_balancer.enabled:
            # Upstream: servicecontroller.New fails, "Failed to start service controller".
            _log.error(
                "failed to start service controller: "
                "the cloud provider does not support external load balancers"
            )
            return None
        return build(context)

    return start


def _plugin(where: tuple[str, str], importer: Import) -> ControllerFactory | None:
    module_name, function = where
    try:
        module = importer(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but something it imports does not: a real error
        return None
    factory: ControllerFactory = getattr(module, function)
    return factory


def controller_specs(
    options: CcmOptions, *, importer: Import = importlib.import_module
) -> list[ControllerSpec]:
    """The four controllers in upstream's order, with what this build has of each."""
    specs = [
        ControllerSpec("cloud-node", cloud_node),
        ControllerSpec("cloud-node-lifecycle", cloud_node_lifecycle),
    ]
    enabled = set(options.controllers)
    # A disabled controller's module is not even imported (start-up time and memory).
    route = _plugin(ROUTE_PLUGIN, importer) if "route" in enabled else None
    if "route" not in enabled:
        specs.append(ControllerSpec("route", None, unavailable="disabled"))
    elif route is not None:
        specs.append(ControllerSpec("route", _route_gate(route)))
    elif options.routes_wanted:
        specs.append(
            ControllerSpec(
                "route",
                None,
                unavailable=f"{'.'.join(ROUTE_PLUGIN)} is not in this build, but "
                "--allocate-node-cidrs and --configure-cloud-routes ask for routes; "
                "disable it with --controllers=*,-route or --configure-cloud-routes=false",
                required=True,
            )
        )
    else:
        specs.append(ControllerSpec("route", _route_gate(_never)))
    service = _plugin(SERVICE_PLUGIN, importer) if "service" in enabled else None
    if "service" not in enabled:
        specs.append(ControllerSpec("service", None, unavailable="disabled"))
    elif service is not None:
        specs.append(ControllerSpec("service", _service_gate(service)))
    else:
        specs.append(
            ControllerSpec(
                "service",
                None,
                unavailable="the Service LoadBalancer controller "
                f"({'.'.join(SERVICE_PLUGIN)}) is not in this build; "
                "Services of type LoadBalancer are not handled",
            )
        )
    return specs


def _never(context: ControllerContext) -> Runnable | None:
    """Reached only if the route gate lets a missing controller through: it never does."""
    raise AssertionError("route controller started without --allocate-node-cidrs")
