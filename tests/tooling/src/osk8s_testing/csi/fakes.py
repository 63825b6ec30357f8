"""Small fakes and call patterns the CSI drivers' suites share: a recording PVC reader (the
narrow ``PvcReader`` each driver defines) and the sidecar's "call again after a failure"."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import grpc


class RecordingPvcs:
    """Every PVC has ``annotations``; ``reads`` records the (namespace, name) asked for."""

    def __init__(self, annotations: Mapping[str, str]) -> None:
        self.value = dict(annotations)
        self.reads: list[tuple[str, str]] = []

    def annotations(self, namespace: str, name: str) -> dict[str, str]:
        self.reads.append((namespace, name))
        return self.value


def converge(rpc: Callable[[], object]) -> int:
    """Call as a CSI sidecar does: once more after a failure. How many calls failed before
    one succeeded (a second failure propagates)."""
    try:
        rpc()
    except grpc.RpcError:
        rpc()
        return 1
    return 0
