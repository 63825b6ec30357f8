"""Fixtures of the call-layer reliability suite (defined in ``rel_harness``)."""

# fault_proxy: until tests/conftest.py lists "osk8s_testing.faultproxy.fixtures" in pytest_plugins.
from rel_harness import hang_harness, harness

from osk8s_testing.faultproxy.fixtures import fault_proxy

__all__ = ["fault_proxy", "hang_harness", "harness"]
