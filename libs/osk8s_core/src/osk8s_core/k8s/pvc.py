"""Reads a PersistentVolumeClaim's annotations (CSI drivers' ``--pvc-annotations``).

CSI CreateVolume names the PVC only through the provisioner's extra metadata
(``csi.storage.k8s.io/pvc/name|namespace``); drivers that honour PVC annotations read them here
with one GET. Consumers define a narrow ``PvcReader``-shaped protocol; this is the real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class KubePvcReader:
    """PVC annotations through the Kubernetes API (``get`` on persistentvolumeclaims)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes.client import CoreV1Api  # noqa: PLC0415 - heavy import, only when on

        self._core = CoreV1Api(api_client)

    def annotations(self, namespace: str, name: str) -> Mapping[str, str]:
        pvc = self._core.read_namespaced_persistent_volume_claim(name, namespace)
        metadata = pvc.metadata
        return dict((metadata.annotations if metadata is not None else None) or {})
