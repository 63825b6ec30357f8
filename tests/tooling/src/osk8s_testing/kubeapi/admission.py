"""Dynamic admission: Mutating/ValidatingWebhookConfiguration objects called over HTTPS.

What kube-apiserver's ``admission/plugin/webhook`` does on a write, in the same order: the
mutating webhooks of all configurations (sorted by configuration name, then in list order)
get an ``admission.k8s.io/v1`` AdmissionReview and may answer a base64 JSONPatch; then the
object is validated; then the validating webhooks see the final object. Matching follows the
``admissionregistration.k8s.io/v1`` reference: rules (apiGroups / apiVersions / resources incl.
``*``, ``*/*``, ``res/sub``, ``*/sub`` / operations / scope), ``matchPolicy`` Exact or
Equivalent (other served versions of the same storage), ``namespaceSelector`` (the namespace's
labels; a Namespace's own labels; ignored for other cluster-scoped objects), ``objectSelector``
(object or old object labels). ``failurePolicy`` Fail turns a call failure into a 500,
Ignore skips it; ``timeoutSeconds`` (default 10, at most 30) bounds each call; a dry-run write
is refused by a webhook whose ``sideEffects`` is not None/NoneOnDryRun; ``reinvocationPolicy``
IfNeeded calls a mutating webhook once more when a later one changed the object.

``clientConfig.url`` is called as is; ``clientConfig.service`` cannot resolve on a test host,
so :class:`AdmissionConfig` maps (namespace, name) to a 127.0.0.1 port (the test hook); the
path and port of the reference are kept. ``caBundle`` (base64 PEM) is the only trust anchor.
The store lock is released while a webhook is called (``unlocked``), so a webhook may call
this API server back; the write path then checks that the object did not change meanwhile and
starts over if it did, as kube-apiserver's GuaranteedUpdate retries on a conflict.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import json
import ssl
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from osk8s_testing.kubeapi import errors
from osk8s_testing.kubeapi.meta import metadata
from osk8s_testing.kubeapi.resources import Registry, ResourceType
from osk8s_testing.kubeapi.store import Key, Store
from osk8s_testing.kubeapi.writectx import DEFAULT_USER

GROUP = "admissionregistration.k8s.io"
MUTATING = "mutatingwebhookconfigurations"
VALIDATING = "validatingwebhookconfigurations"
CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"
DEFAULT_TIMEOUT, MAX_TIMEOUT = 10, 30


@dataclass(frozen=True)
class AdmissionConfig:
    service_endpoints: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(namespace, name) of a webhook Service -> port on 127.0.0.1 (test hook: no cluster DNS)."""


@dataclass(frozen=True)
class Attributes:
    """One admission request: what is being written and by whom."""

    rt: ResourceType
    operation: str
    namespace: str
    name: str
    subresource: str = ""
    old: dict[str, Any] | None = None
    """Wire form of the stored object (UPDATE, DELETE)."""
    dry_run: bool = False
    user: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_USER))
    options: Mapping[str, Any] | None = None


ToWire = Callable[[ResourceType, dict[str, Any]], dict[str, Any]]


# -- defaulting of the configuration objects (as the v1 API defaults them) -----------------------


def default_configuration(kind: str, obj: dict[str, Any]) -> None:
    mutating = kind == "MutatingWebhookConfiguration"
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", DEFAULT_TIMEOUT)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def validate_configuration(kind: str, obj: dict[str, Any]) -> None:
    """pkg/apis/admissionregistration/validation for v1 webhook configurations (the checks a
    manifest can get wrong): names, sideEffects, admissionReviewVersions, timeoutSeconds,
    clientConfig (exactly one of url/service; https only)."""
    name = str(metadata(obj).get("name", ""))
    seen: set[str] = set()

    def fail(field: str, why: str) -> None:
        raise errors.invalid(kind, GROUP, name, field, why)

    for index, hook in enumerate(obj.get("webhooks") or []):
        at = f"webhooks[{index}]"
        if not isinstance(hook, dict):
            fail(at, "Invalid value: must be an object")
        hook_name = str(hook.get("name") or "")
        if hook_name.count(".") < 2:
            fail(f"{at}.name", f'Invalid value: "{hook_name}": should be a domain with at '
                 "least three segments separated by dots")  # fmt: skip
        if hook_name in seen:
            fail(f"{at}.name", f'Duplicate value: "{hook_name}"')
        seen.add(hook_name)
        side_effects = hook.get("sideEffects")
        if side_effects is None:
            fail(f"{at}.sideEffects", 'Unsupported value: "": supported values: "None", '
                 '"NoneOnDryRun"')  # fmt: skip
        elif side_effects not in ("None", "NoneOnDryRun"):
            fail(f"{at}.sideEffects", f'Unsupported value: "{side_effects}": supported '
                 'values: "None", "NoneOnDryRun"')  # fmt: skip
        versions = hook.get("admissionReviewVersions") or []
        if not any(v in ("v1", "v1beta1") for v in versions):
            fail(f"{at}.admissionReviewVersions",
                 "Required value: must specify one of v1, v1beta1")  # fmt: skip
        timeout = hook.get("timeoutSeconds")
        if timeout is not None and not (1 <= int(timeout) <= MAX_TIMEOUT):
            fail(f"{at}.timeoutSeconds", f"Invalid value: {timeout}: the timeout value must "
                 "be between 1 and 30 seconds")  # fmt: skip
        client = hook.get("clientConfig") or {}
        if bool(client.get("url")) == bool(client.get("service")):
            fail(f"{at}.clientConfig", "Required value: exactly one of url or service is required")
        url = str(client.get("url") or "")
        if url and urllib.parse.urlsplit(url).scheme != "https":
            fail(f"{at}.clientConfig.url", f'Invalid value: "{url}": \'https\' is the only '
                 "allowed URL scheme")  # fmt: skip


# -- label selectors (metav1.LabelSelector) -----------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """An empty selector matches everything (as in webhook configurations)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    if not obj:
        return {}
    return (obj.get("metadata") or {}).get("labels") or {}


# -- matching -----------------------------------------------------------------------------------


def _in(value: str, allowed: list[str]) -> bool:
    return "*" in allowed or value in allowed


def _resource_matches(patterns: list[str], plural: str, sub: str) -> bool:
    for pattern in patterns:
        res, _, want_sub = pattern.partition("/")
        if res not in ("*", plural):
            continue
        if not want_sub and not sub:
            return True
        if want_sub and want_sub in ("*", sub):
            return True
    return False


def rule_matches(rule: Mapping[str, Any], rt: ResourceType, operation: str, sub: str) -> bool:
    if not _in(operation, rule.get("operations") or []):
        return False
    if not _in(rt.group, rule.get("apiGroups") or []):
        return False
    if not _in(rt.version, rule.get("apiVersions") or []):
        return False
    if not _resource_matches(list(rule.get("resources") or []), rt.plural, sub):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and rt.namespaced:
        return False
    return not (scope == "Namespaced" and not rt.namespaced)


# -- the dispatcher -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hook:
    configuration: str
    spec: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


class Admission:
    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        to_wire: ToWire,
        config: AdmissionConfig,
        unlocked: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._registry = registry
        self._store = store
        self._to_wire = to_wire
        self._config = config
        self._unlocked = unlocked

    def mutate(self, attrs: Attributes, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        """Run the mutating webhooks on ``obj`` (wire form); returns the possibly patched copy."""
        hooks = self._hooks(MUTATING)
        if not hooks:
            return obj
        current = copy.deepcopy(obj) if obj is not None else None
        changed_after: dict[str, bool] = {}
        for hook in hooks:
            patched = self._call(hook, attrs, current, mutating=True)
            if patched is not None and patched != current:
                current = patched
                for name in changed_after:
                    changed_after[name] = True
            if hook.spec.get("reinvocationPolicy") == "IfNeeded":
                changed_after[hook.name] = False
        for hook in hooks:
            if changed_after.get(hook.name):
                patched = self._call(hook, attrs, current, mutating=True)
                if patched is not None:
                    current = patched
        return current

    def validate(self, attrs: Attributes, obj: dict[str, Any] | None) -> None:
        for hook in self._hooks(VALIDATING):
            self._call(hook, attrs, obj, mutating=False)

    # -- internals --------------------------------------------------------------------------

    def _hooks(self, plural: str) -> list[_Hook]:
        out = []
        for key, config in self._store.items(GROUP, plural):  # sorted by name, as upstream
            for spec in config.get("webhooks") or []:
                if isinstance(spec, dict):
                    out.append(_Hook(key.name, spec))
        return out

    def _match(self, hook: _Hook, attrs: Attributes) -> ResourceType | None:
        """The resource type the hook sees the request as, or None when it does not match."""
        rules = list(hook.spec.get("rules") or [])
        if any(rule_matches(r, attrs.rt, attrs.operation, attrs.subresource) for r in rules):
            return attrs.rt
        if hook.spec.get("matchPolicy", "Equivalent") != "Equivalent":
            return None
        group, plural = attrs.rt.storage_key
        for other in self._registry.by_storage(group, plural):
            if other == attrs.rt:
                continue
            if any(rule_matches(r, other, attrs.operation, attrs.subresource) for r in rules):
                return other
        return None

    def _selected(self, hook: _Hook, attrs: Attributes, obj: dict[str, Any] | None) -> bool:
        # matchObject: a missing object (old on CREATE, new on DELETE) never matches
        object_selector = hook.spec.get("objectSelector")
        if not any(
            o is not None and selector_matches(object_selector, _labels(o))
            for o in (obj, attrs.old)
        ):
            return False
        ns_selector = hook.spec.get("namespaceSelector")
        if not ns_selector:
            return True
        if attrs.rt.group == "" and attrs.rt.plural == "namespaces":
            return selector_matches(ns_selector, _labels(obj or attrs.old))
        if not attrs.rt.namespaced:
            return True
        namespace = self._store.get(Key("", "namespaces", "", attrs.namespace))
        return selector_matches(ns_selector, _labels(namespace))

    def _call(
        self, hook: _Hook, attrs: Attributes, obj: dict[str, Any] | None, *, mutating: bool
    ) -> dict[str, Any] | None:
        seen_as = self._match(hook, attrs)
        if seen_as is None or not self._selected(hook, attrs, obj):
            return obj
        if attrs.dry_run and hook.spec.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{hook.name}" does not support dry run')
        review = self._review(hook, attrs, obj, seen_as)
        uid = review["request"]["uid"]
        try:
            with self._unlocked():  # other requests (and the webhook itself) go on meanwhile
                response = self._post(hook, review)
            answer = response.get("response")
            if not isinstance(answer, dict):
                raise _CallError("the webhook answered no response")
            if answer.get("uid") != uid:
                raise _CallError(f"expected response.uid={uid!r}, got {answer.get('uid')!r}")
        except _CallError as exc:
            if hook.spec.get("failurePolicy", "Fail") == "Ignore":
                return obj
            raise errors.ApiError(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "{hook.name}": {exc}',
            ) from exc
        if not answer.get("allowed"):
            raise _denied(hook.name, answer.get("status") or {})
        if not mutating or not answer.get("patch") or obj is None:
            return obj
        if answer.get("patchType") != "JSONPatch":
            raise errors.ApiError(
                500,
                "InternalError",
                f'Internal error occurred: admission webhook "{hook.name}" returned an '
                f"unsupported patchType {answer.get('patchType')!r}",
            )
        try:
            operations = json.loads(base64.b64decode(answer["patch"]))
            seen = review["request"]["object"]
            patched = jsonpatch.apply_patch(seen, operations)
        except (ValueError, jsonpatch.JsonPatchException) as exc:
            raise errors.ApiError(
                500, "InternalError", f"Internal error occurred: JSON patch failed: {exc}"
            ) from exc
        if seen_as != attrs.rt:
            patched["apiVersion"] = attrs.rt.api_version
        return dict(patched)

    def _review(
        self,
        hook: _Hook,
        attrs: Attributes,
        obj: dict[str, Any] | None,
        seen_as: ResourceType,
    ) -> dict[str, Any]:
        rt = attrs.rt

        def as_seen(o: dict[str, Any] | None) -> dict[str, Any] | None:
            if o is None:
                return None
            if seen_as == rt:
                return o
            return self._to_wire(seen_as, {k: v for k, v in o.items()})

        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": seen_as.group, "version": seen_as.version, "kind": seen_as.kind},
            "resource": {
                "group": seen_as.group,
                "version": seen_as.version,
                "resource": seen_as.plural,
            },
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": attrs.name,
            "operation": attrs.operation,
            "userInfo": dict(attrs.user),
            "object": as_seen(obj),
            "oldObject": as_seen(attrs.old),
            "dryRun": attrs.dry_run,
            "options": dict(attrs.options) if attrs.options is not None else None,
        }
        if rt.namespaced:
            request["namespace"] = attrs.namespace
        if attrs.subresource:
            request["subResource"] = attrs.subresource
            request["requestSubResource"] = attrs.subresource
        versions = list(hook.spec.get("admissionReviewVersions") or ["v1"])
        version = "v1" if "v1" in versions else "v1beta1"
        return {
            "apiVersion": f"admission.k8s.io/{version}",
            "kind": "AdmissionReview",
            "request": request,
        }

    def _post(self, hook: _Hook, review: dict[str, Any]) -> dict[str, Any]:
        client = hook.spec.get("clientConfig") or {}
        timeout = min(int(hook.spec.get("timeoutSeconds") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
        url = self._url(client)
        parts = urllib.parse.urlsplit(url)
        context = ssl.create_default_context()
        if client.get("caBundle"):
            try:
                context = ssl.create_default_context(
                    cadata=base64.b64decode(client["caBundle"]).decode()
                )
            except (ValueError, ssl.SSLError) as exc:
                raise _CallError(f"could not load caBundle: {exc}") from exc
        target = f"{parts.path or '/'}?{_query(parts.query, timeout)}"
        shown = f"{parts.scheme}://{parts.netloc}{target}"
        body = json.dumps(review).encode()
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 443, timeout=timeout, context=context
        )
        try:
            conn.request("POST", target, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise _CallError(f'failed to call webhook: Post "{shown}": {exc}') from exc
        finally:
            conn.close()
        if response.status != 200:
            raise _CallError(f"received invalid webhook response: HTTP {response.status}")
        try:
            decoded = json.loads(data)
        except ValueError as exc:
            raise _CallError(f"received invalid webhook response: {exc}") from exc
        if not isinstance(decoded, dict):
            raise _CallError("received invalid webhook response: not an object")
        return decoded

    def _url(self, client: Mapping[str, Any]) -> str:
        if client.get("url"):
            return str(client["url"])
        service = client.get("service") or {}
        key = (str(service.get("namespace", "")), str(service.get("name", "")))
        port = self._config.service_endpoints.get(key)
        if port is None:
            raise _CallError(
                f'failed to call webhook: service "{key[1]}.{key[0]}.svc" has no endpoint '
                "(map it with AdmissionConfig.service_endpoints)"
            )
        path = service.get("path") or "/"
        return f"https://127.0.0.1:{port}{path}"


class _CallError(Exception):
    pass


def _query(existing: str, timeout: int) -> str:
    extra = f"timeout={timeout}s"
    return f"{existing}&{extra}" if existing else extra


def _denied(name: str, status: Mapping[str, Any]) -> errors.ApiError:
    """webhookerrors.ToStatusErr: code raised to >= 400, message prefixed with the hook."""
    denied = f'admission webhook "{name}" denied the request'
    code = max(int(status.get("code") or 0), 400)
    if status.get("message"):
        message = f"{denied}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied}: {status['reason']}"
    else:
        message = f"{denied} without explanation"
    return errors.ApiError(
        code, str(status.get("reason") or ""), message, details=status.get("details")
    )


def options(kind: str, *, dry_run: bool, field_manager: str | None = None) -> dict[str, Any]:
    """The CreateOptions/UpdateOptions/PatchOptions/DeleteOptions sent as request.options."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        out["dryRun"] = ["All"]
    if field_manager:
        out["fieldManager"] = field_manager
    return out


def attributes_for(
    rt: ResourceType,
    operation: str,
    namespace: str,
    obj_or_old: dict[str, Any],
    **kw: Any,
) -> Attributes:
    return Attributes(
        rt=rt,
        operation=operation,
        namespace=namespace if rt.namespaced else "",
        name=str(metadata(obj_or_old).get("name", "")),
        **kw,
    )
