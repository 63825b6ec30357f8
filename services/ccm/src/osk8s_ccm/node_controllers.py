"""The ``cloud-node`` and ``cloud-node-lifecycle`` controllers on one shared Node informer.

``cloud-node`` initialises tainted Nodes as they appear (work queue, retries with backoff)
and, every ``--node-status-update-frequency``, refreshes every Node's addresses; the
``cloud-node-lifecycle`` pass runs every ``--node-monitor-period``. The periodic passes read
the informer's cache (no Node LIST per pass) and one cloud snapshot each. What runs is chosen
by the caller (``--controllers``); serving, leader election and flags belong to the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from osk8s_ccm.instances import InstancesV2
from osk8s_ccm.lookup import CloudLookup
from osk8s_ccm.node_addresses import AddressRefresher
from osk8s_ccm.node_init import NodeInitializer, Recorder
from osk8s_ccm.node_lifecycle import NodeLifecycle
from osk8s_ccm.node_update import NodeApi
from osk8s_core.k8s.clock import Clock
from osk8s_core.k8s.controller import Controller, ControllerSettings
from osk8s_core.k8s.informer import Informer
from osk8s_core.k8s.listwatch import ApiListWatch
from osk8s_core.k8s.queue import WorkQueue


@dataclass(frozen=True)
class NodePeriods:
    node_monitor: float = 5.0
    """``--node-monitor-period`` (upstream default 5s)."""
    status_update: float = 300.0
    """``--node-status-update-frequency`` (upstream default 5m)."""


class NodeControllers:
    def __init__(
        self,
        *,
        api: NodeApi,
        list_nodes: Callable[..., Any],
        instances: InstancesV2,
        lookup: Callable[[], CloudLookup],
        snapshot: Callable[[], CloudLookup],
        recorder: Recorder,
        clock: Clock,
        periods: NodePeriods = NodePeriods(),
        cloud_node: bool = True,
        lifecycle: bool = True,
        informer: Informer | None = None,
        workers: int = 1,
        logger: Any = None,
    ) -> None:
        self._log = logger or structlog.get_logger("osk8s.ccm.nodes")
        self._periods = periods
        # A shared informer (the process's) is started by its owner, not here.
        self._owns_informer = informer is None
        self.informer = informer or Informer(
            ApiListWatch(list_nodes, description="nodes"), name="nodes", clock=clock
        )
        initializer = NodeInitializer(
            api=api, instances=instances, lookup=lookup, recorder=recorder
        )
        self.controller = Controller(
            name="cloud-node",
            reconcile=initializer.reconcile,
            queue=WorkQueue(clock=clock),
            informers=[self.informer] if self._owns_informer else [],
            settings=ControllerSettings(workers=max(workers, 1)),
        )
        if cloud_node:
            self.informer.add_handlers(self.controller.handlers())
        self._cloud_node = cloud_node
        self._refresher = AddressRefresher(api=api, instances=instances, snapshot=snapshot)
        self._lifecycle = (
            NodeLifecycle(api=api, instances=instances, snapshot=snapshot, recorder=recorder)
            if lifecycle
            else None
        )

    def run(self, stop: threading.Event) -> None:
        """Blocks until ``stop``; every thread it started has ended when it returns."""
        threads: list[threading.Thread] = []
        if self._cloud_node:
            threads.append(self._thread("cloud-node", lambda: self.controller.run(stop)))
            threads.append(
                self._every(stop, "node-addresses", self._periods.status_update, self._refresh)
            )
        elif self._owns_informer:
            threads.append(self.informer.start(stop))
        if self._lifecycle is not None:
            threads.append(
                self._every(stop, "node-lifecycle", self._periods.node_monitor, self._monitor)
            )
        stop.wait()
        for thread in threads:
            thread.join()

    def _refresh(self) -> None:
        self._refresher.sync_all(self.informer.store.objects())

    def _monitor(self) -> None:
        if self._lifecycle is not None:
            self._lifecycle.monitor(self.informer.store.objects())

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def _every(
        self, stop: threading.Event, name: str, period: float, action: Callable[[], None]
    ) -> threading.Thread:
        def loop() -> None:
            while not self.informer.wait_for_sync(0.1):
                if stop.is_set():
                    return
            while not stop.wait(period):
                try:
                    action()
                except Exception as exc:
                    self._log.warning("periodic pass failed", name=name, error=str(exc))

        return self._thread(name, loop)
