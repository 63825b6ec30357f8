"""CAPI Cluster/Machine + OpenStackCluster/OpenStackMachine objects for the machine contract
tests (part F), and a loop that runs the machine and server reconcilers together as the
manager's two controllers would (the machine's pass creates the server object, the server's
pass boots it, the next machine pass mirrors it)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from osk8s_capo.kube import (
    CLUSTER,
    CONTROL_PLANE_LABEL,
    MACHINE,
    OPENSTACK_CLUSTER,
    OPENSTACK_MACHINE,
    OPENSTACK_SERVER,
)
from osk8s_capo.machine import MachineReconciler
from osk8s_capo.scope import ScopeFactory
from osk8s_capo.server import ServerReconciler
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.errors import Osk8sError
from osk8s_core.logging import get_logger

from .capo_harness import FAST_WAIT, POLICY
from .capo_server_harness import ServerWorld, TestNetwork


class MachineWorld(ServerWorld):
    def scopes(self, points: CrashPoints = NO_CRASH_POINTS) -> ScopeFactory:
        return ScopeFactory(
            connections=self.source,
            metrics=self.world.metrics,
            logger=get_logger("capo-test"),
            waiter=FAST_WAIT,
            retry_policy=POLICY,
            crash_points=points,
        )

    def machine_reconciler(self, points: CrashPoints = NO_CRASH_POINTS) -> MachineReconciler:
        return MachineReconciler(
            kube=self.kube, scope_for=self.scopes(points).scope, crash_points=points
        )

    def cluster(
        self,
        name: str,
        net: TestNetwork,
        *,
        status: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A CAPI Cluster and its OpenStackCluster whose status says provisioned on ``net``
        (what the cluster controller writes), unless ``status`` is given."""
        cluster = self.kube.create(
            CLUSTER,
            self.namespace,
            {
                "apiVersion": CLUSTER.api_version,
                "kind": "Cluster",
                "metadata": {"name": name},
                "spec": {
                    "infrastructureRef": {
                        "apiGroup": OPENSTACK_CLUSTER.group,
                        "kind": "OpenStackCluster",
                        "name": name,
                    }
                },
            },
        )
        osc = self.kube.create(
            OPENSTACK_CLUSTER,
            self.namespace,
            {
                "apiVersion": OPENSTACK_CLUSTER.api_version,
                "kind": "OpenStackCluster",
                "metadata": {
                    "name": name,
                    "labels": {"cluster.x-k8s.io/cluster-name": name},
                    "annotations": annotations or {},
                    "ownerReferences": [
                        {
                            "apiVersion": CLUSTER.api_version,
                            "kind": "Cluster",
                            "name": name,
                            "uid": cluster["metadata"]["uid"],
                        }
                    ],
                },
                "spec": {
                    "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
                    **(spec or {}),
                },
            },
        )
        provisioned = {
            "initialization": {"provisioned": True},
            "network": {
                "id": net.network_id,
                "name": net.name,
                "subnets": [{"id": net.subnet_id, "name": net.name, "cidr": net.cidr}],
            },
        }
        return self.kube.patch_status(
            OPENSTACK_CLUSTER, osc, status if status is not None else provisioned
        )

    def machine(
        self,
        name: str,
        cluster: str,
        spec: dict[str, Any],
        *,
        control_plane: bool = False,
        bootstrap: str | None = "boot",
        failure_domain: str | None = None,
    ) -> dict[str, Any]:
        labels = {"cluster.x-k8s.io/cluster-name": cluster}
        if control_plane:
            labels[CONTROL_PLANE_LABEL] = ""
        mspec: dict[str, Any] = {
            "clusterName": cluster,
            "bootstrap": {"dataSecretName": bootstrap} if bootstrap else {},
            "infrastructureRef": {
                "apiGroup": OPENSTACK_MACHINE.group,
                "kind": "OpenStackMachine",
                "name": name,
            },
        }
        if failure_domain:
            mspec["failureDomain"] = failure_domain
        machine = self.kube.create(
            MACHINE,
            self.namespace,
            {
                "apiVersion": MACHINE.api_version,
                "kind": "Machine",
                "metadata": {"name": name, "labels": labels},
                "spec": mspec,
            },
        )
        return self.kube.create(
            OPENSTACK_MACHINE,
            self.namespace,
            {
                "apiVersion": OPENSTACK_MACHINE.api_version,
                "kind": "OpenStackMachine",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "ownerReferences": [
                        {
                            "apiVersion": MACHINE.api_version,
                            "kind": "Machine",
                            "name": name,
                            "uid": machine["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "flavor": {"filter": {"name": "osk8s.small"}},
                    "image": {"filter": {"name": "osk8s-fake-image"}},
                    **spec,
                },
            },
        )

    def bootstrap_secret(self, name: str = "boot") -> None:
        self.world.core.create_namespaced_secret(
            self.namespace, {"metadata": {"name": name}, "stringData": {"value": "#cloud-config\n"}}
        )

    def osm(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(OPENSTACK_MACHINE, self.namespace, name)

    def step(self, name: str, machines: MachineReconciler, servers: ServerReconciler) -> None:
        """One pass of each controller for this machine (errors as the work queue sees them)."""
        for run in (
            lambda: machines.reconcile(self.namespace, name),
            lambda: servers.reconcile(self.namespace, name),
        ):
            with contextlib.suppress(Osk8sError):
                run()

    def converge_machine(
        self,
        name: str,
        until: Callable[[dict[str, Any] | None], bool],
        *,
        points: CrashPoints = NO_CRASH_POINTS,
        rounds: int = 10_000,
        timeout: float = 240.0,
    ) -> dict[str, Any] | None:
        """Step both controllers until ``until(machine)``: at most ``rounds`` passes and
        ``timeout`` seconds (Nova's boot time on a loaded machine varies)."""
        machines, servers = self.machine_reconciler(points), self.reconciler(points)
        deadline = time.monotonic() + timeout
        for index in range(rounds):
            if index and time.monotonic() > deadline:
                break
            if index:
                time.sleep(0.2)
            self.step(name, machines, servers)
            obj = self.osm(name)
            if until(obj):
                return obj
        raise AssertionError(f"machine {name} did not converge: {self.osm(name)}")

    def delete_machine(self, name: str, rounds: int = 10_000) -> None:
        self.kube.delete(OPENSTACK_MACHINE, self.namespace, name)
        self.converge_machine(
            name,
            lambda o: o is None and self.kube.get(OPENSTACK_SERVER, self.namespace, name) is None,
            rounds=rounds,
        )


def provisioned(obj: dict[str, Any] | None) -> bool:
    return bool(obj and ((obj.get("status") or {}).get("initialization") or {}).get("provisioned"))
