"""Shared pytest plugins for every suite: the in-memory Kubernetes API server (`kube_api`)
and the fault proxy (`fault_proxy`)."""

pytest_plugins = ["osk8s_testing.kubeapi.fixtures", "osk8s_testing.faultproxy.fixtures"]
