"""The HTTP face of the fake API: one request handler class per server, built by a factory.

Maps URL + method to an operation, query parameters to options, ApiErrors to Status bodies
(the one place errors become HTTP), and writes watch events as chunked JSON lines. Keeps no
state of its own: everything lives in the :class:`ApiContext` it is built with.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from osk8s_testing.kubeapi import discovery, errors, routing
from osk8s_testing.kubeapi.guard import RequestGuard
from osk8s_testing.kubeapi.operations import (
    BACKGROUND,
    ORPHAN,
    DeleteOptions,
    ListOptions,
    Operations,
)
from osk8s_testing.kubeapi.resources import ResourceType
from osk8s_testing.kubeapi.reviews import ReviewForwarder
from osk8s_testing.kubeapi.selectors import Selector, parse_field_selector, parse_label_selector
from osk8s_testing.kubeapi.watch import WatchRequest, watch
from osk8s_testing.kubeapi.writectx import WriteContext

_log = logging.getLogger(__name__)
_TRUE = ("true", "1")


@dataclass(frozen=True)
class ApiContext:
    ops: Operations
    reviews: ReviewForwarder
    bookmark_interval: float
    default_watch_timeout: float
    guard: RequestGuard | None = None
    """When set, every request is authenticated and authorized through the webhooks."""


def handler_class(context: ApiContext) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to one server's context (no module-level state)."""
    return type("KubeApiHandler", (_Handler,), {"context": context})


class _Response:
    def __init__(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait for
    # the delayed ACK (~40 ms per request). TCP_NODELAY sends each write at once.
    disable_nagle_algorithm = True
    server_version = "osk8s-kube-apiserver"
    context: ApiContext

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.context.ops.schemas.begin_request(query.get("fieldValidation", ""))
        self._user: dict[str, Any] | None = None
        try:
            body = self._read_body()
            if self.context.guard is not None:
                self._user = self.context.guard.check(
                    method,
                    url.path,
                    authorization=self.headers.get("Authorization") or "",
                    watching=query.get("watch", "").lower() in _TRUE,
                )
            response = self._route(method, url.path, query, body)
        except errors.ApiError as exc:
            response = _Response(exc.code, exc.status())
        except Exception as exc:
            _log.exception("internal error on %s %s", method, url.path)
            response = _Response(
                500,
                errors.ApiError(500, "InternalError", f"Internal error occurred: {exc}").status(),
            )
        if response is not None:
            self._send_json(response.code, response.body)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return None
        raw = self.rfile.read(length)
        media = (self.headers.get("Content-Type") or "").split(";", maxsplit=1)[0].strip()
        if media == "application/apply-patch+yaml":
            try:
                return yaml.safe_load(raw)  # YAML is a superset of the JSON clients send
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"error decoding YAML: {exc}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> _Response | None:
        ops = self.context.ops
        if path.rstrip("/") == "/version":
            return _Response(200, discovery.VERSION_INFO)
        if path.rstrip("/") in ("/healthz", "/livez", "/readyz"):
            return _Response(200, "ok")
        target = routing.parse(path)
        if target is None:
            raise errors.path_not_found(path)
        if isinstance(target, routing.Discovery):
            if method != "GET":
                raise errors.method_not_allowed(method)
            host, port = self.connection.getsockname()[:2]
            doc = discovery.document(ops.registry, target, f"{host}:{port}")
            if doc is None:
                raise errors.path_not_found(path)
            return _Response(200, doc)
        rt = ops.registry.get(target.group, target.version, target.plural)
        if rt is None:
            raise errors.path_not_found(path)
        ops.schemas.check_conversion(rt)  # versions needing a conversion webhook: 500
        if rt.virtual:
            return self._review(method, rt, target, body)
        if not rt.namespaced and target.namespace is not None:
            raise errors.path_not_found(path)
        if target.name is None:
            return self._collection(method, rt, target, query, body)
        if rt.namespaced and target.namespace is None:
            raise errors.path_not_found(path)
        return self._item(method, rt, target, query=query, body=body, path=path)

    def _collection(
        self,
        method: str,
        rt: ResourceType,
        target: routing.ResourcePath,
        query: dict[str, str],
        body: Any,
    ) -> _Response | None:
        ops = self.context.ops
        if method == "GET":
            if query.get("watch", "").lower() in _TRUE:
                self._stream(rt, target.namespace, query)
                return None
            return _Response(200, ops.list(rt, target.namespace, _list_options(rt, query)))
        if method == "POST":
            if rt.namespaced and target.namespace is None:
                raise errors.method_not_allowed(method)
            created = ops.create(
                rt, target.namespace or "", body, dry_run=_dry_run(query), ctx=self._ctx(query)
            )
            return _Response(201, created)
        if method == "DELETE":
            listed = ops.list(rt, target.namespace, _list_options(rt, query))
            options = _delete_options(query, body)
            deleted = []
            for item in listed["items"]:
                meta = item["metadata"]
                obj, _ = ops.delete(
                    rt, meta.get("namespace", ""), meta["name"], options, self._ctx(query)
                )
                deleted.append(obj)
            return _Response(200, {**listed, "items": deleted})
        raise errors.method_not_allowed(method)

    def _item(
        self,
        method: str,
        rt: ResourceType,
        target: routing.ResourcePath,
        *,
        query: dict[str, str],
        body: Any,
        path: str,
    ) -> _Response:
        ops = self.context.ops
        namespace, name, sub = target.namespace or "", target.name or "", target.subresource or ""
        allowed_sub = (
            sub == ""
            or (sub == "status" and rt.status_subresource)
            or (sub in rt.extra_subresources)
        )
        if not allowed_sub:
            raise errors.path_not_found(path)
        dry_run = _dry_run(query)
        if method == "GET":
            return _Response(200, ops.get(rt, namespace, name))
        if method == "PUT":
            obj, created = ops.put(
                rt, namespace, name, body, subresource=sub, dry_run=dry_run, ctx=self._ctx(query)
            )
            return _Response(201 if created else 200, obj)
        if method == "PATCH" and sub != "finalize":
            content_type = self.headers.get("Content-Type") or ""
            return _Response(
                200,
                ops.patch(
                    rt,
                    namespace,
                    name,
                    (content_type, body),
                    subresource=sub,
                    dry_run=dry_run,
                    ctx=self._ctx(query),
                ),
            )
        if method == "DELETE" and not sub:
            options = _delete_options(query, body)
            obj, removed = ops.delete(rt, namespace, name, options, self._ctx(query))
            if removed and not rt.return_deleted_object:
                details = {"name": name, "kind": rt.plural, "uid": obj["metadata"].get("uid")}
                if rt.group:
                    details["group"] = rt.group
                status = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
                return _Response(200, status)
            return _Response(200, obj)
        raise errors.method_not_allowed(method)

    def _ctx(self, query: dict[str, str]) -> WriteContext:
        """Per-request write facts; userInfo is the reviewed user when the guard is on."""
        ctx = WriteContext(
            field_manager=query.get("fieldManager", ""),
            force=query.get("force", "").lower() in _TRUE,
            force_given="force" in query,
            user_agent=self.headers.get("User-Agent") or "",
        )
        return replace(ctx, user=self._user) if self._user is not None else ctx

    def _review(
        self, method: str, rt: ResourceType, target: routing.ResourcePath, body: Any
    ) -> _Response:
        if method != "POST" or target.name is not None:
            raise errors.method_not_allowed(method)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        if rt.kind == "TokenReview":
            return _Response(201, self.context.reviews.token_review(body))
        return _Response(201, self.context.reviews.subject_access_review(body))

    # -- output ----------------------------------------------------------------------------

    def _send_json(self, code: int, body: Any) -> None:
        is_text = isinstance(body, str)
        data = body.encode() if is_text else json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for warning in self.context.ops.schemas.warnings():  # e.g. unknown fields pruned
                self.send_header("Warning", "299 - " + json.dumps(warning))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _stream(self, rt: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        timeout = float(query.get("timeoutSeconds") or self.context.default_watch_timeout)
        request = WatchRequest(
            rt=rt,
            namespace=namespace,
            selector=_selector(rt, query),
            resource_version=query.get("resourceVersion"),
            allow_bookmarks=query.get("allowWatchBookmarks", "").lower() in _TRUE,
            send_initial_events=query.get("sendInitialEvents", "").lower() in _TRUE,
            timeout=timeout,
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = watch(
            store=self.context.ops.store,
            converter=self.context.ops,
            request=request,
            bookmark_interval=self.context.bookmark_interval,
            alive=self._client_alive,
        )
        try:
            for event in events:
                self._chunk(json.dumps(event).encode() + b"\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _client_alive(self) -> bool:
        with contextlib.suppress(OSError):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return True
            return bool(self.connection.recv(1, socket.MSG_PEEK))
        return False


def _selector(rt: ResourceType, query: dict[str, str]) -> Selector:
    return Selector(
        labels=parse_label_selector(query.get("labelSelector")),
        fields=parse_field_selector(query.get("fieldSelector"), rt.field_selectors),
    )


def _list_options(rt: ResourceType, query: dict[str, str]) -> ListOptions:
    limit = query.get("limit")
    return ListOptions(
        selector=_selector(rt, query),
        resource_version=query.get("resourceVersion") or None,
        resource_version_match=query.get("resourceVersionMatch") or None,
        limit=int(limit) if limit else None,
        continue_token=query.get("continue") or None,
    )


def _dry_run(query: dict[str, str]) -> bool:
    return query.get("dryRun") == "All"


def _delete_options(query: dict[str, str], body: Any) -> DeleteOptions:
    opts = body if isinstance(body, dict) else {}
    policy = opts.get("propagationPolicy") or query.get("propagationPolicy")
    orphan = opts.get("orphanDependents")
    if orphan is None and "orphanDependents" in query:
        orphan = query["orphanDependents"].lower() in _TRUE
    if not policy:
        policy = ORPHAN if orphan else BACKGROUND
    if policy not in ("Background", "Foreground", "Orphan"):
        raise errors.bad_request(f"propagationPolicy: Unsupported value: {policy!r}")
    pre = opts.get("preconditions") or {}
    dry = opts.get("dryRun") or ([query["dryRun"]] if "dryRun" in query else [])
    return DeleteOptions(
        propagation=policy,
        uid=pre.get("uid"),
        resource_version=pre.get("resourceVersion"),
        dry_run="All" in dry,
    )
