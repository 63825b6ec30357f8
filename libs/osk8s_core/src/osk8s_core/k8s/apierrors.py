"""The one place where Kubernetes client exceptions become ``osk8s_core.errors``.

``translate_api_errors()`` wraps every call into the ``kubernetes`` client made by this package
(and by services), so callers only ever see ``KubernetesError`` and its subclasses. Remote
bodies are parsed for the Status ``message``/``reason`` and truncated; never logged whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from osk8s_core.errors import (
    KubernetesConflict,
    KubernetesError,
    KubernetesGone,
    KubernetesNotFound,
)

# Remote error text is bounded so a proxy's HTML page cannot flood logs or events.
_MAX_MESSAGE = 300

_BY_STATUS: Mapping[int, type[KubernetesError]] = MappingProxyType(
    {404: KubernetesNotFound, 409: KubernetesConflict, 410: KubernetesGone}
)


def _status_text(body: object) -> tuple[str, str]:
    """Return (message, reason) of a metav1.Status body, or the truncated raw body."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body:
        return "", ""
    try:
        status = json.loads(body)
    except ValueError:
        return body[:_MAX_MESSAGE], ""
    if not isinstance(status, dict):
        return body[:_MAX_MESSAGE], ""
    return str(status.get("message", ""))[:_MAX_MESSAGE], str(status.get("reason", ""))


def from_status(code: int | None, message: str, reason: str = "") -> KubernetesError:
    """Build our error for an HTTP status (also used for ERROR events inside a watch stream)."""
    cls = _BY_STATUS.get(code or 0, KubernetesError)
    return cls(message or f"HTTP {code}", status=code, reason=reason)


def from_api_exception(exc: ApiException, action: str = "") -> KubernetesError:
    """Translate one ``ApiException``; ``action`` (e.g. "update lease ns/name") prefixes it."""
    message, reason = _status_text(exc.body)
    status = exc.status if isinstance(exc.status, int) else None
    text = message or str(exc.reason or "")
    if action:
        text = f"{action}: {text}" if text else action
    return from_status(status, text, reason or str(exc.reason or ""))


@contextmanager
def translate_api_errors(action: str = "") -> Iterator[None]:
    """Re-raise client and transport exceptions of the block as ``KubernetesError``."""
    try:
        yield
    except ApiException as exc:
        raise from_api_exception(exc, action) from exc
    except urllib3.exceptions.HTTPError as exc:
        # Connection refused/reset, timeouts, broken streams: no HTTP status at all.
        text = f"{action}: {type(exc).__name__}" if action else type(exc).__name__
        raise KubernetesError(text, status=None, reason="ConnectionError") from exc
