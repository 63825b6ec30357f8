"""Who writes and how: the per-request facts the write path needs beyond the body.

Built by the HTTP handler from headers and query parameters (``fieldManager``, ``force``,
``User-Agent``) and handed to :class:`Operations`; admission sends ``user`` as ``userInfo``
and server-side apply records ``field_manager``. Frozen data, no behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USER: Mapping[str, Any] = {
    "username": "kubernetes-admin",
    "groups": ["system:masters", "system:authenticated"],
}


@dataclass(frozen=True)
class WriteContext:
    user: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_USER))
    """Sent to admission webhooks as userInfo (no authentication: the cluster admin)."""
    field_manager: str = ""
    """The ``fieldManager`` query parameter ("" when absent)."""
    force: bool = False
    """``force=true`` on an apply patch."""
    force_given: bool = False
    """Whether ``force`` was sent at all (forbidden on non-apply patches)."""
    user_agent: str = ""

    def manager(self) -> str:
        """The manager recorded for non-apply writes: fieldManager, else the user agent's
        product (up to the first '/'), as kube-apiserver's prefixFromUserAgent does."""
        if self.field_manager:
            return self.field_manager
        return self.user_agent.split("/", 1)[0][:128] or "unknown"


NO_CONTEXT = WriteContext()
