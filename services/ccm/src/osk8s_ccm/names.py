"""Upstream's names for this binary, shared by the flag parser and the process (import-light)."""

from typing import Final

PROG: Final = "openstack-cloud-controller-manager"
"""The binary and the OpenStack User-Agent's base (``<PROG>/<version>``)."""
