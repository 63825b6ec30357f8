"""The PVC reader CSI drivers use for ``--pvc-annotations``, built from the drivers' Kubernetes
flags and run against the in-memory API server with the real kubernetes client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api, V1ObjectMeta, V1PersistentVolumeClaim
from kubernetes.client.exceptions import ApiException

from osk8s_core.k8s.pvc import pvc_reader_from_flags

NS = "default"


@dataclass(frozen=True)
class Flags:
    kubeconfig: str
    master: str = ""
    kube_api_qps: float = 5.0
    kube_api_burst: int = 10


def _pvc(core: CoreV1Api, name: str, annotations: dict[str, str] | None) -> None:
    meta = V1ObjectMeta(name=name, namespace=NS, annotations=annotations)
    core.create_namespaced_persistent_volume_claim(NS, V1PersistentVolumeClaim(metadata=meta))


def test_reader_from_flags_reads_annotations(kube_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    core = CoreV1Api(kube_api.api_client())
    _pvc(core, "with", {"cinder.csi.openstack.org/affinity": "db-0,db-1"})
    _pvc(core, "without", None)
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    reader = pvc_reader_from_flags(Flags(kubeconfig=str(kubeconfig)), user_agent="test/1")
    assert reader.annotations(NS, "with") == {"cinder.csi.openstack.org/affinity": "db-0,db-1"}
    assert reader.annotations(NS, "without") == {}
    with pytest.raises(ApiException) as missing:
        reader.annotations(NS, "nope")
    assert missing.value.status == 404
