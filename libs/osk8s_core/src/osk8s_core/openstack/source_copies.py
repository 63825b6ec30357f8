"""What Cinder snapshots, Manila share snapshots and Cinder backups share: copies of one
source (a volume or a share), named by the CSI snapshot name.

Each is got, listed, found by name, created once (the same name from another source is
AlreadyExists; a lost create answer looks the name up again), waited for until
``available`` and deleted ("already gone" is success), through the core's client under the
CPO labels ``<resource>_get``/``_list``/``_create``/``_delete``. A subclass names its kind
(``CopyKind``) and builds its own create request; no CSI policy lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import create_once, require_match, single
from osk8s_core.openstack.waiting import Waiter

if TYPE_CHECKING:
    from openstack.connection import Connection

    from osk8s_core.openstack.client import OpenStackClient


class _Copy(Protocol):
    @property
    def id(self) -> Any: ...


R = TypeVar("R", bound=_Copy)


@dataclass(frozen=True)
class CopyKind:
    """One kind of copy: where its API lives and how it is called."""

    service: str
    """The openstacksdk proxy: ``block_storage``, ``shared_file_system``."""
    resource: str
    """Both the CPO label prefix and the proxy's method stem: ``snapshot`` gives the request
    ``snapshot_get`` made by ``get_snapshot``, and ``snapshots`` lists."""
    noun: str
    """In messages: ``share snapshot`` ("share snapshots named 'x'")."""
    source_key: str
    """The attribute naming the source: ``volume_id``, ``share_id``."""


class SourceCopies(Generic[R]):
    """Copies of one kind in the client's project; subclasses set ``kind``."""

    kind: ClassVar[CopyKind]

    def __init__(
        self, client: OpenStackClient[Connection], *, waiter: Waiter | None = None
    ) -> None:
        self._client = client
        self._waiter = waiter if waiter is not None else Waiter()

    def _method(self, name: str) -> Callable[..., Any]:
        return cast("Callable[..., Any]", getattr(self._client.service(self.kind.service), name))

    def get(self, copy_id: str) -> R:
        """The copy; NotFound when it does not exist."""
        stem = self.kind.resource
        found: R = self._client.call(f"{stem}_get", self._method(f"get_{stem}"), copy_id)
        return found

    def query(self, **filters: Any) -> list[R]:
        """Copies matching the service's list filters (``name``, the source, ``status``...)."""
        listing = cast("Callable[..., Iterable[R]]", self._method(f"{self.kind.resource}s"))
        return self._client.call(f"{self.kind.resource}_list", lambda: list(listing(**filters)))

    def find_by_name(self, name: str) -> R | None:
        """The copy named exactly ``name``; AmbiguousMatch if there are several."""
        return single(named(self.query(name=name), name), what=f"{self.kind.noun}s named {name!r}")

    def _create_once(self, name: str, source_id: str, attrs: dict[str, Any], *, wait: bool) -> R:
        """Create from ``attrs`` unless a copy named ``name`` exists; one from another source
        than ``source_id`` is AlreadyExists. ``wait``: until available."""
        stem = self.kind.resource
        make = self._method(f"create_{stem}")

        def create() -> R:
            made: R = self._client.call(f"{stem}_create", make, idempotent=False, **attrs)
            return made

        wanted = {self.kind.source_key: source_id}
        what = f"{self.kind.noun} {name!r}"
        copy = create_once(
            find=lambda: self.find_by_name(name),
            create=create,
            check=lambda found: require_match(found, wanted, what=what),
        )
        return self.wait_available(copy.id) if wait else copy

    def wait_available(self, copy_id: str) -> R:
        return self._waiter.until(
            lambda: self.get(copy_id),
            target="available",
            failure=("error",),
            describe=f"{self.kind.noun} {copy_id}",
        )

    def delete(self, copy_id: str, *, wait: bool = False) -> None:
        """Delete; one already gone is success. ``wait``: until it is gone."""
        stem = self.kind.resource
        delete = self._method(f"delete_{stem}")
        self._client.call(f"{stem}_delete", delete, copy_id, ignore_missing=True)
        if wait:
            self._waiter.until_gone(
                lambda: self.get(copy_id),
                describe=f"{self.kind.noun} {copy_id} deletion",
                failure=("error_deleting",),
            )
