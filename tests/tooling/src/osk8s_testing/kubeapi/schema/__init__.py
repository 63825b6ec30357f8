"""CRD structural schemas for the fake kube-apiserver: pruning, defaulting, validation, CEL.

Entry point: :class:`CustomResourceSchemas` (hooks on the verbs' write and read paths).
"""

from osk8s_testing.kubeapi.schema.customresources import CustomResourceSchemas

__all__ = ["CustomResourceSchemas"]
