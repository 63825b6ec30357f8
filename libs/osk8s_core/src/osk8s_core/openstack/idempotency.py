"""The find-first create that every resource module uses, and its match decisions.

A create is safe to repeat after a crash or a lost answer only if it looks before it leaps:
``create_once`` finds by name (or tag/marker) first, creates only when nothing matches, and
when the create's outcome is unknown (reset, read timeout, 5xx) looks again instead of
creating twice. ``single`` and ``require_match`` turn a lookup into "none, this one, or an
error". Pure logic over callables: no OpenStack calls, no logging here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from osk8s_core import errors

T = TypeVar("T")


def single(items: Iterable[T], *, what: str) -> T | None:
    """The one item, None when there is none; AmbiguousMatch when there are several
    (matches CPO: more than one load balancer of a name is an error, never a guess)."""
    found = list(items)
    if not found:
        return None
    if len(found) > 1:
        raise errors.AmbiguousMatch(f"{len(found)} {what} match, expected at most one")
    return found[0]


def mismatches(
    resource: object, wanted: Mapping[str, object], *, none_is_wildcard: bool = True
) -> list[str]:
    """Names of attributes of ``resource`` that differ from ``wanted``.

    By default a ``None`` in ``wanted`` means "no opinion" and is skipped, so callers can
    pass the optional parts of a request as they are; with ``none_is_wildcard=False`` it
    means "must be unset" (a volume asked for without a source must not have one).
    """
    return sorted(
        key
        for key, value in wanted.items()
        if (value is not None or not none_is_wildcard) and getattr(resource, key, None) != value
    )


def require_match(
    resource: T, wanted: Mapping[str, object], *, what: str, none_is_wildcard: bool = True
) -> T:
    """``resource`` when it has every attribute in ``wanted``; AlreadyExists otherwise
    (matches CPO cinder: same name with another size is ALREADY_EXISTS, not a new volume)."""
    differing = mismatches(resource, wanted, none_is_wildcard=none_is_wildcard)
    if differing:
        detail = ", ".join(
            f"{key}={getattr(resource, key, None)!r} (wanted {wanted[key]!r})" for key in differing
        )
        raise errors.AlreadyExists(f"{what} exists with different attributes: {detail}")
    return resource


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed create may still have been carried out by the server: the answer was
    lost (reset, read timeout) or the server failed after it may have written (5xx)."""
    if isinstance(exc, errors.ServiceUnavailable):
        return not exc.not_sent
    return isinstance(exc, errors.ServerError)


def create_once(
    *,
    find: Callable[[], T | None],
    create: Callable[[], T],
    check: Callable[[T], T] | None = None,
) -> T:
    """Find, else create; never a duplicate when called again with the same request.

    ``find`` looks the resource up by its stable identity (name, tag, description marker);
    ``check`` validates a found resource against the request (e.g. ``require_match``) and
    may raise. After a create whose outcome is unknown, ``find`` runs once more: if the
    server did act, that resource is returned; otherwise the original error propagates and
    the next call (a retry, or the next reconcile after a crash) starts from ``find`` again.
    """
    validate: Callable[[T], T] = check if check is not None else _same
    existing = find()
    if existing is not None:
        return validate(existing)
    return create_after_lookup(find=find, create=create, check=validate)


def create_after_lookup(
    *, find: Callable[[], T | None], create: Callable[[], T], check: Callable[[T], T]
) -> T:
    """The create half of ``create_once``, for callers that already looked the resource up
    (e.g. under an in-flight lock): look again only when the create's outcome is unknown, so a
    lost answer never makes a duplicate and the happy path makes no second lookup."""
    try:
        return create()
    except errors.OpenStackError as exc:
        if not outcome_unknown(exc):
            raise
        landed = find()
        if landed is None:
            raise
        return check(landed)


def _same(resource: T) -> T:
    return resource
