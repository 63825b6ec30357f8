"""List and watch one resource collection over HTTP, as raw JSON dicts.

``ApiListWatch`` drives any generated list method of the ``kubernetes`` client
(``CoreV1Api.list_namespaced_service``, ``CustomObjectsApi.list_cluster_custom_object``…) with
``_preload_content=False``, so objects skip the slow model deserialisation and CRDs look the same
as core types. It does one list or one watch per call; retrying and caching are the informer's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

from kubernetes.watch.watch import iter_resp_lines as _untyped_iter_resp_lines

from osk8s_core.k8s.apierrors import translate_api_errors
from osk8s_core.k8s.store import KubeObject

WatchEvent = dict[str, Any]

# The client's line splitter handles chunk boundaries and bad UTF-8; it is just untyped.
iter_resp_lines = cast(Callable[[Any], Iterator[str]], _untyped_iter_resp_lines)


class WatchStream(Protocol):
    """One open watch: iterate events; ``close`` may be called from another thread."""

    def __iter__(self) -> Iterator[WatchEvent]: ...

    def close(self) -> None: ...


class ListWatch(Protocol):
    """What the informer needs from a collection."""

    def list(self) -> tuple[list[KubeObject], str]:
        """All objects and the list's resourceVersion."""
        ...

    def watch(self, resource_version: str, timeout_seconds: int) -> WatchStream:
        """Events after ``resource_version``; the server ends the stream after the timeout."""
        ...


class _ResponseLike(Protocol):
    data: bytes

    def stream(self, amt: int | None, decode_content: bool | None) -> Iterator[bytes]: ...

    def shutdown(self) -> None: ...

    def release_conn(self) -> None: ...


class HttpWatchStream:
    """Newline-delimited JSON watch events read from an urllib3 response."""

    def __init__(self, response: _ResponseLike, *, action: str) -> None:
        self._response = response
        self._action = action

    def __iter__(self) -> Iterator[WatchEvent]:
        with translate_api_errors(self._action):
            for line in iter_resp_lines(self._response):
                if line.strip():
                    event = json.loads(line)
                    if isinstance(event, dict):
                        yield event

    def close(self) -> None:
        """Idempotent; safe from any thread and after the stream has ended."""
        # shutdown() unblocks a reader stuck in recv() in another thread; close() alone won't.
        # urllib3 refuses it once the connection went back to the pool (stream fully read).
        with contextlib.suppress(RuntimeError, OSError):
            self._response.shutdown()
        self._response.release_conn()


class ApiListWatch:
    """List+watch through one generated list method and its fixed arguments."""

    def __init__(
        self,
        list_fn: Callable[..., Any],
        *,
        description: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        request_timeout: float = 60.0,
        **fn_args: Any,
    ) -> None:
        self._fn = list_fn
        self.description = description
        self._args = dict(fn_args)
        if label_selector:
            self._args["label_selector"] = label_selector
        if field_selector:
            self._args["field_selector"] = field_selector
        self._request_timeout = request_timeout

    def list(self) -> tuple[list[KubeObject], str]:
        with translate_api_errors(f"list {self.description}"):
            response = self._fn(
                **self._args, _preload_content=False, _request_timeout=self._request_timeout
            )
            body = json.loads(response.data)
        items: list[dict[str, Any]] = list(body.get("items") or [])
        # Items of a typed list carry no kind/apiVersion; the list's own say what they are.
        kind = str(body.get("kind") or "").removesuffix("List")
        api_version = body.get("apiVersion")
        for item in items:
            if kind:
                item.setdefault("kind", kind)
            if api_version:
                item.setdefault("apiVersion", api_version)
        rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
        return list(items), rv

    def watch(self, resource_version: str, timeout_seconds: int) -> HttpWatchStream:
        action = f"watch {self.description}"
        with translate_api_errors(action):
            response = self._fn(
                **self._args,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                # Read timeout above the server-side one: a silent dead connection still ends.
                _request_timeout=(self._request_timeout, timeout_seconds + 30),
            )
        return HttpWatchStream(response, action=action)
