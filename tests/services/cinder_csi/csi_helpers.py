"""CSI request builders for the cinder tests: the shared ones (``osk8s_testing.csi``)."""

from __future__ import annotations

from osk8s_testing.csi.requests import GIB, SNW, Mode, cap, code_of, create_req

__all__ = ["GIB", "SNW", "Mode", "cap", "code_of", "create_req"]
