"""Shared pytest plugins for every suite."""

pytest_plugins = ["osk8s_testing.kubeapi.fixtures"]
