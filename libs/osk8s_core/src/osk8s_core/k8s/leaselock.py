"""The leader-election lock: one ``coordination.k8s.io/v1`` Lease, read and written whole.

``LeaseRecord`` is the election state kept in the Lease spec; ``KubeLeaseLock`` maps it to the
API with optimistic concurrency: every update carries the resourceVersion it was based on, so a
concurrent writer makes it fail with ``KubernetesConflict``. No timing or election logic here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from kubernetes.client import V1Lease, V1LeaseSpec, V1ObjectMeta

from osk8s_core.errors import KubernetesNotFound
from osk8s_core.k8s.apierrors import translate_api_errors


@dataclass(frozen=True)
class LeaseRecord:
    """Election state, as in client-go's ``LeaderElectionRecord``."""

    holder_identity: str
    """"" when nobody holds the lease (after a release)."""
    lease_duration_seconds: int
    acquire_time: dt.datetime | None
    renew_time: dt.datetime | None
    lease_transitions: int


@dataclass(frozen=True)
class ObservedLease:
    record: LeaseRecord
    resource_version: str


class LeaseLock(Protocol):
    """What the elector needs from the lock object."""

    def describe(self) -> str: ...

    def get(self) -> ObservedLease | None:
        """The current record, or None when the Lease does not exist."""
        ...

    def create(self, record: LeaseRecord) -> ObservedLease:
        """Create the Lease; ``KubernetesConflict`` if someone else created it first."""
        ...

    def update(self, record: LeaseRecord, resource_version: str) -> ObservedLease:
        """Replace the Lease; ``KubernetesConflict`` if it changed since ``resource_version``."""
        ...


class LeaseApi(Protocol):
    """The three calls of ``kubernetes.client.CoordinationV1Api`` the lock uses."""

    def read_namespaced_lease(self, name: str, namespace: str) -> V1Lease: ...

    def create_namespaced_lease(self, namespace: str, body: V1Lease) -> V1Lease: ...

    def replace_namespaced_lease(self, name: str, namespace: str, body: V1Lease) -> V1Lease: ...


class KubeLeaseLock:
    """A Lease object ``namespace/name`` through ``CoordinationV1Api``."""

    def __init__(self, api: LeaseApi, *, namespace: str, name: str) -> None:
        self._api = api
        self.namespace = namespace
        self.name = name

    def describe(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def get(self) -> ObservedLease | None:
        try:
            with translate_api_errors(f"get {self.describe()}"):
                lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except KubernetesNotFound:
            return None
        return _observed(lease)

    def create(self, record: LeaseRecord) -> ObservedLease:
        with translate_api_errors(f"create {self.describe()}"):
            lease = self._api.create_namespaced_lease(self.namespace, self._body(record, None))
        return _observed(lease)

    def update(self, record: LeaseRecord, resource_version: str) -> ObservedLease:
        body = self._body(record, resource_version)
        with translate_api_errors(f"update {self.describe()}"):
            lease = self._api.replace_namespaced_lease(self.name, self.namespace, body)
        return _observed(lease)

    def _body(self, record: LeaseRecord, resource_version: str | None) -> V1Lease:
        return V1Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=V1ObjectMeta(
                name=self.name, namespace=self.namespace, resource_version=resource_version
            ),
            spec=V1LeaseSpec(
                # client-go omits an empty holder; the API stores it as absent.
                holder_identity=record.holder_identity or None,
                lease_duration_seconds=record.lease_duration_seconds,
                acquire_time=record.acquire_time,
                renew_time=record.renew_time,
                lease_transitions=record.lease_transitions,
            ),
        )


def _observed(lease: V1Lease) -> ObservedLease:
    spec = lease.spec or V1LeaseSpec()
    record = LeaseRecord(
        holder_identity=spec.holder_identity or "",
        lease_duration_seconds=spec.lease_duration_seconds or 0,
        acquire_time=spec.acquire_time,
        renew_time=spec.renew_time,
        lease_transitions=spec.lease_transitions or 0,
    )
    rv = (lease.metadata.resource_version if lease.metadata else None) or ""
    return ObservedLease(record=record, resource_version=rv)
