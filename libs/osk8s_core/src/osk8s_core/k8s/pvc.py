"""Reads a PersistentVolumeClaim's annotations (CSI drivers' ``--pvc-annotations``).

CSI CreateVolume names the PVC only through the provisioner's extra metadata
(``csi.storage.k8s.io/pvc/name|namespace``); drivers that honour PVC annotations read them here
with one GET. Consumers define a narrow ``PvcReader``-shaped protocol; this is the real one.
The kubernetes client is imported only when a reader is built (node plugins never do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class KubeFlags(Protocol):
    """The Kubernetes client flags CPO's CSI drivers share (``--kubeconfig``, ``--master``,
    ``--kube-api-qps``, ``--kube-api-burst``), as a driver's settings carry them."""

    @property
    def kubeconfig(self) -> str: ...
    @property
    def master(self) -> str: ...
    @property
    def kube_api_qps(self) -> float: ...
    @property
    def kube_api_burst(self) -> int: ...


class KubePvcReader:
    """PVC annotations through the Kubernetes API (``get`` on persistentvolumeclaims)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes.client import CoreV1Api  # noqa: PLC0415 - heavy import, only when on

        self._core = CoreV1Api(api_client)

    def annotations(self, namespace: str, name: str) -> Mapping[str, str]:
        pvc = self._core.read_namespaced_persistent_volume_claim(name, namespace)
        metadata = pvc.metadata
        return dict((metadata.annotations if metadata is not None else None) or {})


def pvc_reader_from_flags(flags: KubeFlags, *, user_agent: str) -> KubePvcReader:
    """The real reader for a driver's Kubernetes client flags."""
    from osk8s_core.k8s.client import KubeClientOptions, build_api_client  # noqa: PLC0415

    options = KubeClientOptions(
        kubeconfig=flags.kubeconfig,
        master=flags.master,
        qps=flags.kube_api_qps,
        burst=flags.kube_api_burst,
        user_agent=user_agent,
    )
    return KubePvcReader(build_api_client(options))
