"""Read-modify-write of a Node, retried from a fresh read when someone else wrote in between
(409), as client-go's ``RetryOnConflict`` around an update."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

from kubernetes.client import V1Node, V1NodeSpec, V1ObjectMeta

from osk8s_core.errors import KubernetesConflict
from osk8s_core.k8s.apierrors import translate_api_errors

CONFLICT_RETRIES: Final = 5
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
"""What upstream's ``PatchNodeStatus`` sends to ``nodes/status``."""


class NodeApi(Protocol):
    """The calls of ``kubernetes.client.CoreV1Api`` the node controllers make."""

    def read_node(self, name: str) -> V1Node: ...

    def replace_node(self, name: str, body: V1Node) -> V1Node: ...

    def delete_node(self, name: str) -> Any: ...

    def patch_node_status(
        self, name: str, body: dict[str, Any], *, _content_type: str | None = ...
    ) -> V1Node: ...


def parts(node: V1Node) -> tuple[V1ObjectMeta, V1NodeSpec]:
    """The node's metadata and spec, made present (the client types both as optional)."""
    node.metadata = node.metadata or V1ObjectMeta()
    node.spec = node.spec or V1NodeSpec()
    return node.metadata, node.spec


def update_node(api: NodeApi, name: str, mutate: Callable[[V1Node], bool]) -> bool:
    """Apply ``mutate`` to a fresh copy and write it; ``mutate`` returns False when there is
    nothing to change (then nothing is written). True when a write happened."""
    for attempt in range(CONFLICT_RETRIES):
        with translate_api_errors(f"get node {name}"):
            node = api.read_node(name)
        if not mutate(node):
            return False
        try:
            with translate_api_errors(f"update node {name}"):
                api.replace_node(name, node)
            return True
        except KubernetesConflict:
            if attempt == CONFLICT_RETRIES - 1:
                raise
    return False


def addresses_patch(addresses: Iterable[Mapping[str, str]]) -> dict[str, Any]:
    """A strategic merge patch of ``nodes/status`` (upstream's content type) that replaces
    ``status.addresses`` whole: the ``$patch: replace`` element keeps two addresses of one type,
    which a merge keyed on ``type`` would fold into one."""
    return {"status": {"addresses": [{"$patch": "replace"}, *(dict(a) for a in addresses)]}}
