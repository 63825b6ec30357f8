"""Admission webhooks called by the fake API over HTTPS, as kube-apiserver calls them.

Upstream reference: https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/
and staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook (request building, matching,
``webhookerrors.ToStatusErr`` for the deny message, failure policy). The webhook here is a
real HTTPS server on 127.0.0.1 with a throw-away self-signed CA passed as ``caBundle``.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from osk8s_testing.kubeapi import KubeApiServer
from osk8s_testing.kubeapi.admission import GROUP, AdmissionConfig
from osk8s_testing.kubeapi.fixtures import KubeApiFactory
from osk8s_testing.kubeapi.store import Key
from osk8s_testing.tls import self_signed_localhost

from .conftest import status_body

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Webhook:
    """An HTTPS admission webhook: records every AdmissionReview, answers with ``answer``."""

    port: int
    ca_bundle: str
    reviews: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    answer: Answer = field(default=lambda req: {"allowed": True})
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/admit"

    def requests(self) -> list[dict[str, Any]]:
        return [r["request"] for r in self.reviews]


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[Webhook]:
    tls = self_signed_localhost(tmp_path)
    ca = base64.b64encode(Path(tls.cert).read_bytes()).decode()
    hook = Webhook(port=0, ca_bundle=ca)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hook.reviews.append(review)
            hook.paths.append(self.path)
            if hook.delay:
                time.sleep(hook.delay)
            response = {"uid": review["request"]["uid"], **hook.answer(review["request"])}
            body = json.dumps(
                {
                    "apiVersion": review["apiVersion"],
                    "kind": "AdmissionReview",
                    "response": response,
                }
            ).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    hook.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


def _hook(
    name: str,
    client_config: dict[str, Any],
    *,
    operations: tuple[str, ...] = ("CREATE", "UPDATE"),
    resources: tuple[str, ...] = ("configmaps",),
    groups: tuple[str, ...] = ("",),
    versions: tuple[str, ...] = ("v1",),
    scope: str = "*",
    **extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "apiGroups": list(groups),
                "apiVersions": list(versions),
                "resources": list(resources),
                "operations": list(operations),
                "scope": scope,
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    spec.update(extra)
    return spec


def _register(api_client: Any, kind: str, *hooks: dict[str, Any], name: str = "test") -> None:
    api = client.AdmissionregistrationV1Api(api_client)
    body = {"metadata": {"name": name}, "webhooks": list(hooks)}
    if kind == "Validating":
        api.create_validating_webhook_configuration(body)
    else:
        api.create_mutating_webhook_configuration(body)


def _direct(webhook: Webhook) -> dict[str, Any]:
    return {"url": webhook.url, "caBundle": webhook.ca_bundle}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_validating_webhook_denies_with_upstream_message(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    webhook.answer = lambda req: {
        "allowed": req["object"]["metadata"]["name"] != "bad",
        "status": {"code": 403, "reason": "Forbidden", "message": "name bad is not allowed"},
    }
    _register(api_client, "Validating", _hook("names.example.com", _direct(webhook)))
    core.create_namespaced_config_map("default", {"metadata": {"name": "good"}})
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "bad"}})
    assert exc.value.status == 403
    body = status_body(exc.value)
    assert body["message"] == (
        'admission webhook "names.example.com" denied the request: name bad is not allowed'
    )
    assert body["reason"] == "Forbidden"
    assert [
        n for n in (c.metadata.name for c in core.list_namespaced_config_map("default").items)
    ] == ["good"]


def test_deny_without_status_is_400_without_explanation(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    webhook.answer = lambda req: {"allowed": False}
    _register(api_client, "Validating", _hook("quiet.example.com", _direct(webhook)))
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert exc.value.status == 400  # ToStatusErr raises codes below 400 to 400
    assert status_body(exc.value)["message"] == (
        'admission webhook "quiet.example.com" denied the request without explanation'
    )


def test_admission_review_request_fields(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    _register(
        api_client,
        "Validating",
        _hook("fields.example.com", _direct(webhook), operations=("*",)),
    )
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    core.delete_namespaced_config_map("a", "default")
    create, update, delete = webhook.requests()
    assert webhook.reviews[0]["apiVersion"] == "admission.k8s.io/v1"
    assert webhook.paths[0] == "/admit?timeout=10s"  # timeoutSeconds defaults to 10
    assert create["operation"] == "CREATE"
    assert create["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert create["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert create["requestKind"] == create["kind"]
    assert create["requestResource"] == create["resource"]
    assert (create["name"], create["namespace"]) == ("a", "default")
    assert create["object"]["data"] == {"k": "1"}
    assert create["object"]["metadata"]["uid"]  # validating webhooks see the final object
    assert create["oldObject"] is None
    assert create["dryRun"] is False
    assert create["options"]["kind"] == "CreateOptions"
    assert create["userInfo"]["username"]
    assert update["operation"] == "UPDATE"
    assert update["oldObject"]["data"] == {"k": "1"}
    assert update["object"]["data"] == {"k": "2"}
    assert update["options"]["kind"] == "PatchOptions"
    assert delete["operation"] == "DELETE"
    assert delete["object"] is None
    assert delete["oldObject"]["data"] == {"k": "2"}
    assert delete["options"]["kind"] == "DeleteOptions"
    assert len({create["uid"], update["uid"], delete["uid"]}) == 3


def test_mutating_webhook_json_patch_applied_before_validation(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]

    def answer(req: dict[str, Any]) -> dict[str, Any]:
        if req["object"]["metadata"].get("labels"):  # the validating call sees the mutation
            return {"allowed": True}
        return {
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
        }

    webhook.answer = answer
    _register(api_client, "Mutating", _hook("label.example.com", _direct(webhook)))
    _register(api_client, "Validating", _hook("check.example.com", _direct(webhook)))
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "m-"}})
    assert made.metadata.labels == {"mutated": "yes"}
    mutating, validating = webhook.requests()
    # mutating webhooks run before the name is generated and the uid assigned
    assert mutating["object"]["metadata"].get("uid") is None
    assert validating["object"]["metadata"]["labels"] == {"mutated": "yes"}
    assert validating["name"] == made.metadata.name


@pytest.mark.parametrize(("policy", "created"), [("Fail", False), ("Ignore", True)])
def test_failure_policy_on_unreachable_webhook(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook, policy: str, created: bool
) -> None:
    config = {"url": f"https://127.0.0.1:{_closed_port()}/admit", "caBundle": webhook.ca_bundle}
    _register(api_client, "Validating", _hook("down.example.com", config, failurePolicy=policy))
    if created:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
        return
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert exc.value.status == 500
    body = status_body(exc.value)
    assert body["reason"] == "InternalError"
    assert body["message"].startswith(
        'Internal error occurred: failed calling webhook "down.example.com": '
        'failed to call webhook: Post "https://127.0.0.1:'
    )


def test_timeout_seconds_bounds_the_call(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    webhook.delay = 15.0
    _register(
        api_client,
        "Validating",
        _hook("slow.example.com", _direct(webhook), timeoutSeconds=1, failurePolicy="Ignore"),
    )
    started = time.monotonic()
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    # The 1 s timeout ended the call, not the webhook's 15 s (slack for a loaded machine).
    assert time.monotonic() - started < 8
    assert webhook.paths == ["/admit?timeout=1s"]


def test_ca_bundle_is_verified(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    wrong = base64.b64encode(Path(self_signed_localhost(other).cert).read_bytes()).decode()
    config = {"url": webhook.url, "caBundle": wrong}
    _register(api_client, "Validating", _hook("tls.example.com", config))
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert exc.value.status == 500
    assert "CERTIFICATE_VERIFY_FAILED" in status_body(exc.value)["message"]
    assert webhook.reviews == []


def test_rules_operations_subresources_and_scope(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    webhook.answer = lambda req: {"allowed": False, "status": {"message": "no"}}
    _register(
        api_client,
        "Validating",
        _hook("status.example.com", _direct(webhook), resources=("services/status",)),
        _hook(
            "nodes.example.com",
            _direct(webhook),
            resources=("*",),
            operations=("DELETE",),
            scope="Namespaced",
        ),
    )
    core.create_namespaced_service(
        "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    core.patch_namespaced_service("web", "default", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(client.ApiException) as exc:
        core.patch_namespaced_service_status(
            "web", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
        )
    assert "status.example.com" in status_body(exc.value)["message"]
    assert webhook.requests()[0]["subResource"] == "status"
    core.create_node({"metadata": {"name": "n1"}})
    core.delete_node("n1")  # cluster-scoped: the Namespaced rule does not match
    with pytest.raises(client.ApiException) as exc2:
        core.delete_namespaced_service("web", "default")
    assert "nodes.example.com" in status_body(exc2.value)["message"]


def test_namespace_and_object_selectors(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    _register(
        api_client,
        "Validating",
        _hook(
            "sel.example.com",
            _direct(webhook),
            namespaceSelector={"matchLabels": {"webhooks": "on"}},
            objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        ),
    )
    core.create_namespace({"metadata": {"name": "on", "labels": {"webhooks": "on"}}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.create_namespaced_config_map("on", {"metadata": {"name": "b", "labels": {"skip": "1"}}})
    core.create_namespaced_config_map("on", {"metadata": {"name": "c"}})
    assert [r["name"] for r in webhook.requests()] == ["c"]


def test_match_policy_equivalent_sends_the_matched_version(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    # core/v1 Events and events.k8s.io/v1 Events share storage: an Equivalent rule for the
    # latter is called for the former, with kind/resource converted and requestKind kept
    for name, policy in (("eq.example.com", "Equivalent"), ("exact.example.com", "Exact")):
        _register(
            api_client,
            "Validating",
            _hook(
                name,
                _direct(webhook),
                resources=("events",),
                groups=("events.k8s.io",),
                matchPolicy=policy,
            ),
            name=name,
        )
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Test",
            "message": "m",
        },
    )
    (request,) = webhook.requests()
    assert request["kind"] == {"group": "events.k8s.io", "version": "v1", "kind": "Event"}
    assert request["requestKind"] == {"group": "", "version": "v1", "kind": "Event"}
    assert request["object"]["apiVersion"] == "events.k8s.io/v1"
    assert request["object"]["regarding"]["name"] == "p"


def test_dry_run_and_side_effects(
    kube_api: KubeApiServer, api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    _register(api_client, "Validating", _hook("pure.example.com", _direct(webhook)))
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}}, dry_run="All")
    assert webhook.requests()[0]["dryRun"] is True
    assert core.list_namespaced_config_map("default").items == []
    # v1 accepts only None/NoneOnDryRun; a configuration stored in older days with
    # sideEffects Unknown (admissionregistration v1beta1) refuses dry-run requests
    legacy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "legacy", "uid": "u-legacy"},
        "webhooks": [_hook("effects.example.com", _direct(webhook), sideEffects="Unknown")],
    }
    kube_api.store.write(Key(GROUP, "validatingwebhookconfigurations", "", "legacy"), legacy)
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "y"}}, dry_run="All")
    assert exc.value.status == 400
    assert status_body(exc.value)["message"] == (
        'admission webhook "effects.example.com" does not support dry run'
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sideEffects": "Some"}, "webhooks[0].sideEffects"),
        ({"timeoutSeconds": 31}, "webhooks[0].timeoutSeconds"),
        ({"admissionReviewVersions": []}, "webhooks[0].admissionReviewVersions"),
        ({"name": "short.name"}, "webhooks[0].name"),
        ({"clientConfig": {"url": "http://127.0.0.1:1/"}}, "webhooks[0].clientConfig.url"),
        ({"clientConfig": {}}, "webhooks[0].clientConfig"),
    ],
)
def test_webhook_configuration_validation(
    api_client: Any, webhook: Webhook, change: dict[str, Any], field: str
) -> None:
    # pkg/apis/admissionregistration/validation (ValidateValidatingWebhookConfiguration, v1)
    hook = {**_hook("valid.example.com", _direct(webhook)), **change}
    with pytest.raises(client.ApiException) as exc:
        client.AdmissionregistrationV1Api(api_client).create_validating_webhook_configuration(
            {"metadata": {"name": "bad"}, "webhooks": [hook]}
        )
    assert exc.value.status == 422
    assert status_body(exc.value)["details"]["causes"][0]["field"] == field


def test_service_reference_resolves_through_test_hook(
    kube_api_factory: KubeApiFactory, webhook: Webhook
) -> None:
    server: KubeApiServer = kube_api_factory(
        admission=AdmissionConfig(service_endpoints={("capo-system", "capo-webhook"): webhook.port})
    )
    api = server.api_client()
    config = {
        "service": {"namespace": "capo-system", "name": "capo-webhook", "path": "/admit"},
        "caBundle": webhook.ca_bundle,
    }
    _register(api, "Validating", _hook("svc.example.com", config))
    stored = client.AdmissionregistrationV1Api(api).read_validating_webhook_configuration("test")
    hook = stored.webhooks[0]
    # v1 defaults as the API server stores them
    assert (hook.failure_policy, hook.match_policy, hook.timeout_seconds) == (
        "Fail",
        "Equivalent",
        10,
    )
    assert hook.client_config.service.port == 443
    client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert webhook.paths == ["/admit?timeout=10s"]


def test_reinvocation_if_needed(api_client: Any, core: client.CoreV1Api, webhook: Webhook) -> None:
    def answer(req: dict[str, Any]) -> dict[str, Any]:
        labels = req["object"]["metadata"].get("labels") or {}
        if "second" in webhook.paths[-1] and "second" not in labels:
            ops = [{"op": "add", "path": "/metadata/labels", "value": {**labels, "second": "1"}}]
            return {
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": base64.b64encode(json.dumps(ops).encode()).decode(),
            }
        return {"allowed": True}

    webhook.answer = answer
    first = {"url": webhook.url + "?first", "caBundle": webhook.ca_bundle}
    second = {"url": webhook.url + "?second", "caBundle": webhook.ca_bundle}
    _register(
        api_client,
        "Mutating",
        _hook("first.example.com", first, reinvocationPolicy="IfNeeded"),
        _hook("second.example.com", second),
    )
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    # first, second (mutates), first again (IfNeeded, saw a later change)
    assert [p.split("?")[1].split("&")[0] for p in webhook.paths] == ["first", "second", "first"]


def test_webhook_may_call_the_api_server_back(
    api_client: Any, core: client.CoreV1Api, webhook: Webhook
) -> None:
    # the store is not locked during the call: a webhook reading (or writing) through the API
    # does not deadlock; a write to the object under admission makes the request start over
    core.create_namespaced_config_map("default", {"metadata": {"name": "ref"}, "data": {"k": "v"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "target"}})
    seen: list[str] = []

    def answer(req: dict[str, Any]) -> dict[str, Any]:
        seen.append(core.read_namespaced_config_map("ref", "default").data["k"])
        if req["operation"] == "UPDATE" and len(seen) == 1:
            core.patch_namespaced_config_map("target", "default", {"data": {"by": "webhook"}})
        return {"allowed": True}

    webhook.answer = answer
    _register(
        api_client,
        "Validating",
        _hook("callback.example.com", _direct(webhook), timeoutSeconds=20),
    )
    started = time.monotonic()
    patched = core.patch_namespaced_config_map("target", "default", {"data": {"by2": "client"}})
    # No deadlock on the webhook's own call: well before the 20 s webhook timeout.
    assert time.monotonic() - started < 12
    assert patched.data == {"by": "webhook", "by2": "client"}  # retried on the changed object
    updates = [r for r in webhook.requests() if r["operation"] == "UPDATE"]
    assert len(updates) == 3  # client patch, webhook's own patch, the client patch again
    assert seen == ["v", "v", "v"]


def test_user_info_is_the_authenticated_user(
    kube_api_factory: KubeApiFactory, webhook: Webhook
) -> None:
    from osk8s_testing.kubeapi import WebhookConfig
    from osk8s_testing.kubeapi.review_webhook import ReviewWebhook

    def decide(body: dict[str, Any]) -> dict[str, Any]:
        if body["kind"] == "TokenReview":
            user = {"username": "alice", "uid": "42", "groups": ["devs"]}
            return {"authenticated": True, "user": user}
        return {"allowed": True}

    reviewer = ReviewWebhook(decide)
    try:
        server = kube_api_factory(
            webhooks=WebhookConfig(
                token_review_url=reviewer.url, authorization_url=reviewer.url, guard_requests=True
            )
        )
        api = server.api_client(token="good")
        _register(api, "Validating", _hook("who.example.com", _direct(webhook)))
        client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    finally:
        reviewer.close()
    (request,) = webhook.requests()
    assert request["userInfo"] == {"username": "alice", "uid": "42", "groups": ["devs"]}
