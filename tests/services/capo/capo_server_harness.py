"""Helpers of the OpenStackServer/OpenStackMachine contract tests (part F): the production
``ServerReconciler`` over the test cloud's demo credentials (read from the namespace's
Secret, as CAPO does), a private network per module, OpenStackServer objects, a converge
loop that retries errors as the work queue would, and listings of what a server's names
can produce (for "nothing left" checks scoped to one server)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from openstack.connection import Connection

from osk8s_capo.credentials import ConnectionSource, CredentialResolver, IdentityRef
from osk8s_capo.kube import OPENSTACK_SERVER
from osk8s_capo.server import ServerReconciler
from osk8s_capo.server_cloud import ServerCloud
from osk8s_core.crashpoints import NO_CRASH_POINTS, CrashPoints
from osk8s_core.errors import Osk8sError
from osk8s_core.logging import get_logger
from osk8s_core.openstack.client import OpenStackClient

from .capo_harness import FAST_WAIT, POLICY, World

FLAVOR = "osk8s.small"
IMAGE = "osk8s-fake-image"


@dataclass(frozen=True)
class TestNetwork:
    __test__ = False
    network_id: str
    subnet_id: str
    cidr: str
    security_group_id: str
    name: str


def private_network(demo: Connection, prefix: str) -> Iterator[TestNetwork]:
    """A network/subnet of this module only (and the default SG); deleted, with any port left
    on it, after."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    net = demo.network.create_network(name=name)
    third = int(uuid.uuid4().int % 200) + 20
    cidr = f"10.{third}.0.0/24"
    subnet = demo.network.create_subnet(network_id=net.id, name=name, cidr=cidr, ip_version=4)
    # the project's default group (SG quota is shared by every suite: make none)
    group = next(g for g in demo.network.security_groups(name="default"))
    try:
        yield TestNetwork(net.id, subnet.id, cidr, group.id, name)
    finally:
        for port in demo.network.ports(network_id=net.id):
            if port.device_owner in ("", None) or port.device_owner.startswith("compute:"):
                demo.network.delete_port(port.id, ignore_missing=True)
        demo.network.delete_network(net.id, ignore_missing=True)


class ServerWorld:
    """OpenStackServer helpers over a ``World`` (namespace, Secret, metrics)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.kube = world.kube
        self.source = ConnectionSource(
            resolver=CredentialResolver(secrets=world.kube, identities=world.kube),
            cache=world.cache,
        )

    def client_for(self, points: CrashPoints) -> Callable[[str, IdentityRef], Any]:
        def build(namespace: str, ref: IdentityRef) -> OpenStackClient[Any]:
            return OpenStackClient(
                self.source.connection(namespace, ref),
                metrics=self.world.metrics,
                retry_policy=POLICY,
                logger=get_logger("capo-test"),
                crash_points=points,
            )

        return build

    def reconciler(self, points: CrashPoints = NO_CRASH_POINTS) -> ServerReconciler:
        return ServerReconciler(
            kube=self.kube,
            client_for=self.client_for(points),
            cloud_for=lambda client: ServerCloud.over(client, waiter=FAST_WAIT),
            crash_points=points,
            events=self.world.events,
        )

    @property
    def namespace(self) -> str:
        return self.world.namespace

    def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": OPENSTACK_SERVER.api_version,
            "kind": "OpenStackServer",
            "metadata": {"name": name},
            "spec": {
                "identityRef": {"name": "cloud-config", "cloudName": "openstack"},
                "flavor": FLAVOR,
                "image": {"filter": {"name": IMAGE}},
                "sshKeyName": "",
                **spec,
            },
        }
        return self.kube.create(OPENSTACK_SERVER, self.namespace, body)

    def get(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(OPENSTACK_SERVER, self.namespace, name)

    def event_reasons(self, name: str) -> dict[str, str]:
        """reason → message of the Events recorded on the OpenStackServer ``name``."""
        return {
            e.reason: e.message
            for e in self.world.core.list_namespaced_event(self.namespace).items
            if e.involved_object.kind == "OpenStackServer" and e.involved_object.name == name
        }

    def world_events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of every Event on the OpenStackServer ``name``."""
        return [
            (e.type, e.reason, e.message)
            for e in self.world.core.list_namespaced_event(self.namespace).items
            if e.involved_object.kind == "OpenStackServer" and e.involved_object.name == name
        ]

    def converge(
        self,
        name: str,
        until: Callable[[dict[str, Any] | None], bool],
        *,
        reconciler: ServerReconciler | None = None,
        rounds: int = 10_000,
        timeout: float = 240.0,
    ) -> dict[str, Any] | None:
        """Reconcile until ``until(object)`` (at most ``rounds`` passes and ``timeout``
        seconds: Nova's boot time on a loaded machine varies); errors retried as the work
        queue would."""
        rec = reconciler or self.reconciler()
        last: BaseException | None = None
        deadline = time.monotonic() + timeout
        for index in range(rounds):
            if index and time.monotonic() > deadline:
                break
            if index:
                time.sleep(0.2)
            try:
                rec.reconcile(self.namespace, name)
            except Osk8sError as exc:
                last = exc
            obj = self.get(name)
            if until(obj):
                return obj
        raise AssertionError(f"{name} did not converge; last error: {last!r}")

    def delete(self, name: str, rounds: int = 10_000) -> None:
        self.kube.delete(OPENSTACK_SERVER, self.namespace, name)
        self.converge(name, lambda obj: obj is None, rounds=rounds)

    def cloud_objects(self, name: str) -> dict[str, list[str]]:
        """Servers, ports and volumes carrying this server's names (ids)."""
        demo = self.world.demo
        return {
            # DELETED/SOFT_DELETED count as gone, as in CAPO (#2618): Nova lists them a moment
            "servers": [
                s.id
                for s in demo.compute.servers(name=f"^{name}$")
                if s.name == name and s.status not in ("DELETED", "SOFT_DELETED")
            ],
            "ports": [p.id for p in demo.network.ports() if (p.name or "").startswith(f"{name}-")],
            "volumes": [
                v.id
                for v in demo.block_storage.volumes()
                if v.name == f"{name}-root" or (v.name or "").startswith(f"{name}-")
            ],
        }


def ready(obj: dict[str, Any] | None) -> bool:
    return bool(obj and (obj.get("status") or {}).get("ready"))
