"""The API verbs with kube-apiserver semantics, over the store.

create/get/list/update/patch/delete as the real server does them: names and generateName,
namespace existence, optimistic concurrency, status split and generation (via :mod:`updates`),
finalizers and deletionTimestamp, dry run, no-op writes that keep the version. Garbage
collection and CRD/namespace lifecycles are delegated to collaborators (:mod:`gc`,
:mod:`crds`) that write back through :meth:`mutate` and :meth:`delete_key`. No HTTP here.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from osk8s_testing.kubeapi import (
    admission,
    conversion,
    defaultclass,
    defaults,
    errors,
    immutable,
    listing,
    updates,
)
from osk8s_testing.kubeapi import apply as ssa
from osk8s_testing.kubeapi.admission import Admission, AdmissionConfig, Attributes
from osk8s_testing.kubeapi.crds import CrdController
from osk8s_testing.kubeapi.gc import Collector
from osk8s_testing.kubeapi.meta import (
    Clock,
    deleting,
    finalizers,
    generated_name,
    metadata,
    same_content,
    timestamp,
    utc_now,
    valid_name,
    valid_path_segment_name,
)
from osk8s_testing.kubeapi.patch import APPLY_PATCH, apply_patch
from osk8s_testing.kubeapi.resources import Registry, ResourceType
from osk8s_testing.kubeapi.schema import CustomResourceSchemas
from osk8s_testing.kubeapi.store import Key, Store
from osk8s_testing.kubeapi.writectx import NO_CONTEXT, WriteContext

NAMESPACES = ("", "namespaces")
BACKGROUND, FOREGROUND, ORPHAN = "Background", "Foreground", "Orphan"
_GC_FINALIZERS = {FOREGROUND: "foregroundDeletion", ORPHAN: "orphan"}
ManagedFields = list[dict[str, Any]]
_ADMISSION_RETRIES = 5
_T = TypeVar("_T")


class _Changed(Exception):
    """The object changed while the store was unlocked for a webhook call: start over."""


ListOptions = listing.ListOptions
_BAD_NAME = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str = BACKGROUND
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


class Operations:
    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        clock: Clock = utc_now,
        admission_config: AdmissionConfig | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.admission = Admission(
            registry=registry,
            store=store,
            to_wire=self.to_wire,
            config=admission_config or AdmissionConfig(),
            unlocked=self._unlocked,
        )
        self._allocator = defaults.Allocator()
        self.gc = Collector(store=store, writer=self)
        self.crds = CrdController(registry=registry, store=store, writer=self, clock=clock)
        self.schemas = CustomResourceSchemas(store)

    # -- wire form <-> storage form --------------------------------------------------------

    def to_wire(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if conversion.needs_conversion(rt.group, rt.plural):
            return conversion.core_to_events(obj)
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        if rt.custom:  # CRD schema defaults on read from storage (not written back)
            out = self.schemas.on_read(rt, out)
        return out

    def _from_wire(self, rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj = copy.deepcopy(body)
        if conversion.needs_conversion(rt.group, rt.plural):
            return conversion.events_to_core(obj)
        storage = self._storage_type(rt)
        obj["apiVersion"], obj["kind"] = storage.api_version, storage.kind
        if rt.custom:  # decode: prune unknown fields, apply defaults (again after mutation)
            self.schemas.decode(rt, obj)
        return obj

    def _storage_type(self, rt: ResourceType) -> ResourceType:
        if rt.storage_group is None:
            return rt
        group, plural = rt.storage_key
        return next(t for t in self.registry.by_storage(group, plural) if t.group == group)

    def key(self, rt: ResourceType, namespace: str, name: str) -> Key:
        group, plural = rt.storage_key
        return Key(group, plural, namespace if rt.namespaced else "", name)

    # -- reads -----------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self.key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.to_wire(rt, obj)

    def list(
        self, rt: ResourceType, namespace: str | None, opts: listing.ListOptions
    ) -> dict[str, Any]:
        return listing.list_objects(self.store, rt, namespace, opts, self.to_wire)

    # -- writes ----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        ctx: WriteContext = NO_CONTEXT,
        options_kind: str = "CreateOptions",
        managed_fields: ManagedFields | None = None,
    ) -> dict[str, Any]:
        obj = self._from_wire(rt, body)
        meta = metadata(obj)
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.namespace_mismatch()
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        attrs = self._attributes(rt, admission.CREATE, namespace, obj, None, dry_run, ctx,
                                 options_kind)  # fmt: skip
        defaultclass.default_class(self.store, rt, obj)  # built-in plugins before webhooks
        obj = self._mutate(rt, attrs, obj)
        meta = metadata(obj)
        name = self._name(rt, meta)
        key = self.key(rt, namespace, name)
        with self.store.lock:
            if rt.namespaced:
                self._check_namespace_open(rt, namespace, name)
            if self.store.get(key) is not None:
                raise errors.already_exists(rt.plural, rt.group, name)
            for stale in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(stale, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = timestamp(self.clock)
            if rt.tracks_generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if rt.status_subresource and not rt.keep_status_on_create:
                obj.pop("status", None)
            defaults.on_create(rt.kind, obj, self._allocator)
            if rt.group == admission.GROUP:
                admission.default_configuration(rt.kind, obj)
                admission.validate_configuration(rt.kind, obj)
            self.crds.before_create(key, obj)
            self.schemas.validate_create(rt, obj)  # CRD schema + CEL, before validating admission
            immutable.validate_create(rt, obj)
            self._validate(rt, replace(attrs, name=name), obj)
            if self.store.get(key) is not None:  # created while a webhook was called
                raise errors.already_exists(rt.plural, rt.group, name)
            if managed_fields is not None:  # created by an apply
                meta["managedFields"] = managed_fields
            else:
                ssa.track_update(rt, None, obj, manager=ctx.manager(), subresource="",
                                 now=timestamp(self.clock), keys=self._list_keys(rt))  # fmt: skip
            if dry_run:
                return self.to_wire(rt, obj)
            stored = self.store.write(key, obj)
            self.crds.after_write(key, stored)
            return self.to_wire(rt, stored)

    def _name(self, rt: ResourceType, meta: dict[str, Any]) -> str:
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )
            meta["name"] = generated_name(meta["generateName"])
        name = str(meta["name"])
        # Event names are free-form upstream (involved object name + hex suffix)
        if rt.path_segment_names:
            if not valid_path_segment_name(name):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    "metadata.name",
                    f'Invalid value: "{name}": may not be "." or ".." '
                    'and may not contain "/" or "%"',
                )
        elif not valid_name(name) and rt.kind != "Event":
            raise errors.invalid(
                rt.kind, rt.group, name, "metadata.name", f'Invalid value: "{name}": {_BAD_NAME}'
            )
        return name

    def _check_namespace_open(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(Key(*NAMESPACES, "", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if deleting(ns):
            raise errors.namespace_terminating(rt.plural, rt.group, name, namespace)

    def put(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        ctx: WriteContext = NO_CONTEXT,
    ) -> tuple[dict[str, Any], bool]:
        """PUT: an update, or a create for types that allow it; returns (object, created)."""
        with self.store.lock:
            missing = self.store.get(self.key(rt, namespace, name)) is None
            if missing and rt.create_on_update and not subresource:
                fresh = copy.deepcopy(body) if isinstance(body, dict) else body
                if isinstance(fresh, dict):
                    meta = fresh.setdefault("metadata", {})
                    meta.pop("resourceVersion", None)
                    meta.setdefault("name", name)
                    if meta["name"] != name:
                        raise errors.bad_request(
                            f"the name of the object ({meta['name']}) does not match the name "
                            f"on the URL ({name})"
                        )
                return self.create(rt, namespace, fresh, dry_run=dry_run, ctx=ctx), True
            updated = self.update(
                rt, namespace, name, body, subresource=subresource, dry_run=dry_run, ctx=ctx
            )
            return updated, False

    def update(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._retrying(self._update_once, *args, **kwargs)

    def _update_once(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        ctx: WriteContext = NO_CONTEXT,
    ) -> dict[str, Any]:
        new = self._from_wire(rt, body)
        meta = metadata(new)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.namespace_mismatch()
        key = self.key(rt, namespace, name)
        with self.store.lock:
            old = self._existing(rt, key)
            updates.check_preconditions(rt, old, new, require_rv=True)
            attrs = self._attributes(rt, admission.UPDATE, namespace, new, old, dry_run, ctx,
                                     "UpdateOptions", subresource)  # fmt: skip
            result = self._admit_update(rt, attrs, old, new, subresource, ctx)
            return self.to_wire(rt, self._commit(key, old, result, dry_run=dry_run))

    def patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._retrying(self._patch_once, *args, **kwargs)

    def _patch_once(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: tuple[str, Any],
        *,
        subresource: str = "",
        dry_run: bool = False,
        ctx: WriteContext = NO_CONTEXT,
    ) -> dict[str, Any]:
        """``patch`` is (content type, body)."""
        content_type, body = patch
        if content_type.split(";", maxsplit=1)[0].strip().lower() == APPLY_PATCH:
            return self._retrying(self._apply, rt, namespace, name, body, subresource, dry_run, ctx)
        if ctx.force_given:
            ssa.forbid_force()
        key = self.key(rt, namespace, name)
        with self.store.lock:
            old = self._existing(rt, key)
            patched = apply_patch(
                content_type,
                self.to_wire(rt, old),
                body,
                kind=rt.kind,
                strategic_allowed=not rt.custom,
            )
            new = self._from_wire(rt, patched)
            if metadata(new).get("name") != name:
                raise errors.bad_request("metadata.name cannot be changed by a patch")
            # a patch without resourceVersion applies to the current object (no 409), as upstream
            updates.check_preconditions(rt, old, new, require_rv=False)
            attrs = self._attributes(rt, admission.UPDATE, namespace, new, old, dry_run, ctx,
                                     "PatchOptions", subresource)  # fmt: skip
            result = self._admit_update(rt, attrs, old, new, subresource, ctx)
            return self.to_wire(rt, self._commit(key, old, result, dry_run=dry_run))

    def _apply(  # noqa: PLR0917
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str,
        dry_run: bool,
        ctx: WriteContext,
    ) -> dict[str, Any]:
        """Server-side apply (see :mod:`apply`): creates when absent, else merges with ownership."""
        ssa.require_manager(ctx.field_manager)
        config = self._from_wire(rt, body)
        if rt.custom:
            # the applied configuration's own fields, not its schema defaults: merging defaults
            # would overwrite what other managers set (defaulting runs on the merged object)
            config = copy.deepcopy(body)
            config["apiVersion"], config["kind"] = rt.api_version, rt.kind
        config_meta = metadata(config)
        if config_meta.get("name") and config_meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({config_meta['name']}) does not match the name on "
                f"the URL ({name})"
            )
        config_meta["name"] = name
        if rt.namespaced:
            config_meta.setdefault("namespace", namespace)
        key = self.key(rt, namespace, name)
        now = timestamp(self.clock)
        with self.store.lock:
            old = self.store.get(key)
            if old is None:
                if subresource:
                    raise errors.not_found(rt.plural, rt.group, name)
                merged = ssa.apply(rt, None, config, manager=ctx.field_manager, force=ctx.force,
                                   subresource="", now=now, keys=self._list_keys(rt))  # fmt: skip
                managed = metadata(merged).pop("managedFields", [])
                created = self.create(
                    rt,
                    namespace,
                    self.to_wire(rt, merged),
                    dry_run=dry_run,
                    ctx=ctx,
                    options_kind="PatchOptions",
                    managed_fields=managed,
                )
                return created
            new = ssa.apply(rt, old, config, manager=ctx.field_manager, force=ctx.force,
                            subresource=subresource, now=now, keys=self._list_keys(rt))  # fmt: skip
            if rt.custom:
                self.schemas.decode(rt, new)
            updates.check_preconditions(rt, old, new, require_rv=False)
            attrs = self._attributes(rt, admission.UPDATE, namespace, new, old, dry_run, ctx,
                                     "PatchOptions", subresource)  # fmt: skip
            managed = metadata(new).get("managedFields")
            result = self._admit_update(rt, attrs, old, new, subresource, ctx, managed or [])
            return self.to_wire(rt, self._commit(key, old, result, dry_run=dry_run))

    def _list_keys(self, rt: ResourceType) -> ssa.ListKeys:
        crd = self.schemas.crd(rt) if rt.custom else None
        return ssa.list_keys(rt, crd.schema(rt.version) if crd is not None else None)

    # -- admission and built-in validation (kube-apiserver's order) -------------------------

    @contextlib.contextmanager
    def _unlocked(self) -> Iterator[None]:
        """Release the store lock (all recursion levels) for the duration of a webhook call."""
        lock: Any = self.store.lock
        if not lock._is_owned():
            yield
            return
        state = lock._release_save()
        try:
            yield
        finally:
            lock._acquire_restore(state)

    def _ensure_unchanged(self, rt: ResourceType, old: dict[str, Any]) -> None:
        meta = metadata(old)
        current = self.store.get(self.key(rt, meta.get("namespace", ""), meta["name"]))
        if current is None or metadata(current).get("resourceVersion") != meta.get(
            "resourceVersion"
        ):
            raise _Changed

    def _retrying(self, once: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        for _ in range(_ADMISSION_RETRIES):
            try:
                return once(*args, **kwargs)
            except _Changed:
                continue
        raise errors.ApiError(
            409, "Conflict", "the object kept changing while admission webhooks were called"
        )

    def _attributes(  # noqa: PLR0917 (the admission attributes, in upstream's order)
        self,
        rt: ResourceType,
        operation: str,
        namespace: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        dry_run: bool,
        ctx: WriteContext,
        options_kind: str,
        subresource: str = "",
    ) -> Attributes:
        return admission.attributes_for(
            rt,
            operation,
            namespace,
            old if old is not None else obj,
            subresource=subresource,
            old=self.to_wire(rt, old) if old is not None else None,
            dry_run=dry_run,
            user=ctx.user,
            options=admission.options(
                options_kind, dry_run=dry_run, field_manager=ctx.field_manager or None
            ),
        )

    def _mutate(self, rt: ResourceType, attrs: Attributes, obj: dict[str, Any]) -> dict[str, Any]:
        """Mutating webhooks (never for the webhook configurations themselves, as upstream)."""
        if rt.group == admission.GROUP:
            return obj
        patched = self.admission.mutate(attrs, self.to_wire(rt, obj))
        return self._from_wire(rt, patched) if patched is not None else obj

    def _validate(self, rt: ResourceType, attrs: Attributes, obj: dict[str, Any] | None) -> None:
        if rt.group != admission.GROUP:
            self.admission.validate(attrs, self.to_wire(rt, obj) if obj is not None else None)

    def _admit_update(  # noqa: PLR0917
        self,
        rt: ResourceType,
        attrs: Attributes,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str,
        ctx: WriteContext,
        applied: ManagedFields | None = None,
    ) -> dict[str, Any]:
        """mutating webhooks -> registry PrepareForUpdate -> validation -> validating webhooks,
        then managedFields (``applied``: the entries an apply computed)."""
        new = self._mutate(rt, attrs, new)
        self._ensure_unchanged(rt, old)
        result = updates.prepare_update(
            rt, old, new, subresource=subresource, allocator=self._allocator
        )
        if rt.group == admission.GROUP:
            admission.default_configuration(rt.kind, result)
            admission.validate_configuration(rt.kind, result)
        self.schemas.validate_update(rt, old, result, subresource=subresource)
        immutable.validate_update(rt, old, result, subresource=subresource)
        self._validate(rt, attrs, result)
        self._ensure_unchanged(rt, old)
        if applied is not None:
            if applied:
                metadata(result)["managedFields"] = applied
            else:
                metadata(result).pop("managedFields", None)
        else:
            ssa.track_update(rt, old, result, manager=ctx.manager(), subresource=subresource,
                             now=timestamp(self.clock), keys=self._list_keys(rt))  # fmt: skip
        return result

    def _existing(self, rt: ResourceType, key: Key) -> dict[str, Any]:
        old = self.store.get(key)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, key.name)
        return old

    def _commit(
        self, key: Key, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        if same_content(old, new):
            return old  # upstream: a no-op write keeps the resourceVersion and sends no event
        self.crds.before_update(key, old, new)
        if dry_run:
            metadata(new)["resourceVersion"] = metadata(old).get("resourceVersion")
            return new
        stored = self.store.write(key, new)
        self.crds.after_write(key, stored)
        if deleting(stored) and not self._blocked(key, stored):
            return self._remove(key)
        return stored

    def _blocked(self, key: Key, obj: dict[str, Any]) -> bool:
        if finalizers(obj):
            return True
        spec_finalizers = (obj.get("spec") or {}).get("finalizers")
        return (key.group, key.plural) == NAMESPACES and bool(spec_finalizers)

    def _remove(self, key: Key) -> dict[str, Any]:
        final = self.store.remove(key)
        self.gc.after_removal(key, final)
        self.crds.after_removal(key, final)
        return final

    # -- deletion --------------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        opts: DeleteOptions,
        ctx: WriteContext = NO_CONTEXT,
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, removed): removed is False while finalizers hold it."""
        return self._retrying(self._delete_once, rt, namespace, name, opts, ctx)

    def _delete_once(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        opts: DeleteOptions,
        ctx: WriteContext,
    ) -> tuple[dict[str, Any], bool]:
        key = self.key(rt, namespace, name)
        with self.store.lock:
            obj = self._existing(rt, key)
            meta = metadata(obj)
            if opts.uid and opts.uid != meta.get("uid"):
                raise errors.precondition_failed(rt, name, "UID", opts.uid, meta.get("uid"))
            actual_rv = meta.get("resourceVersion")
            if opts.resource_version and opts.resource_version != actual_rv:
                raise errors.precondition_failed(
                    rt, name, "ResourceVersion", opts.resource_version, actual_rv
                )
            if rt.group != admission.GROUP:
                attrs = self._attributes(rt, admission.DELETE, namespace, obj, obj,
                                         opts.dry_run, ctx, "DeleteOptions")  # fmt: skip
                self.admission.mutate(attrs, None)
                self.admission.validate(attrs, None)
                self._ensure_unchanged(rt, obj)
            if opts.dry_run:
                return self.to_wire(rt, obj), not self._blocked(key, obj)
            final, removed = self.delete_key(key, opts.propagation)
            return self.to_wire(rt, final), removed

    def delete_key(self, key: Key, propagation: str = BACKGROUND) -> tuple[dict[str, Any], bool]:
        """Delete by storage key with the given propagation (also used by the collectors)."""
        with self.store.lock:
            obj = self.store.get(key)
            if obj is None:
                raise errors.not_found(key.plural, key.group, key.name)
            if deleting(obj):
                return obj, False
            meta = metadata(obj)
            pending = finalizers(obj)
            gc_finalizer = _GC_FINALIZERS.get(propagation)
            if (key.group, key.plural) == NAMESPACES:
                obj.setdefault("status", {})["phase"] = "Terminating"
            elif gc_finalizer is not None:
                # upstream (registry Store.Delete, deletionFinalizersForGarbageCollection): the
                # object always stays with deletionTimestamp and the GC finalizer, and the
                # garbage collector removes it after handling the dependents
                pending = [f for f in pending if f not in _GC_FINALIZERS.values()]
                pending.append(gc_finalizer)
            if not self._blocked(key, {**obj, "metadata": {**meta, "finalizers": pending}}):
                return self._remove(key), True
            if pending:
                meta["finalizers"] = pending
            meta["deletionTimestamp"] = timestamp(self.clock)
            meta["deletionGracePeriodSeconds"] = 0
            stored = self.store.write(key, obj)
            self.gc.deletion_started(key, stored)
            self.crds.deletion_started(key, stored)
            current = self.store.get(key)
            if current is None and gc_finalizer is not None:
                # the in-process collector finished at once; the client sees what the
                # DELETE response upstream shows (object pending its GC finalizer)
                return stored, False
            return (current, False) if current is not None else (stored, True)

    def mutate(self, key: Key, change: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """Apply ``change(obj)`` to the stored object as a controller would (no status split)."""
        with self.store.lock:
            old = self.store.get(key)
            if old is None:
                return None
            new = copy.deepcopy(old)
            change(new)
            return self._commit(key, old, new, dry_run=False)
