"""Redaction of secret values: the one definition of what looks secret.

Used by the log pipeline (every event, ours and stdlib's) and by the OpenStack error mapper
(remote bodies and library messages). Pure functions, no state; it must never log or raise on
odd input, since it runs inside the logging path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from osk8s_core.secrets import REDACTED, SecretStr

# Key names whose values are secret whatever they hold. Deliberately not bare "key": work-queue
# keys ("namespace/name") and "key" fields in config errors must stay readable.
_SECRET_KEY: Final = re.compile(
    r"passwd|password|passphrase|secret|token|authorization|cookie|"
    r"api[-_]?key|auth[-_]?key|private[-_]?key|key[-_]?material|cert[-_]?key|key[-_]?data|"
    r"encryption[-_]?key|signing[-_]?key",
    re.IGNORECASE,
)
# Keys that match the pattern above but only name or point at a secret; their values are safe.
_SAFE_KEY: Final = re.compile(
    r"(_id|_name|_file|_path|_ref|_type|_expires(_at)?|_ttl)$|^token_source$", re.IGNORECASE
)

_TEXT_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # PEM private keys (key material in certificates bundles, Barbican payloads).
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL
        ),
        REDACTED,
    ),
    # Auth headers in curl-style debug lines, reprs of header dicts and error messages.
    (
        re.compile(
            r"(?P<k>\b(?:X-Auth-Token|X-Subject-Token|X-Service-Token|X-Auth-Key|Authorization)"
            r"[\"']?\s*[:=]\s*[\"']?)(?:(?:Bearer|Basic|Token|Negotiate)\s+)?[^\s\"',;]+",
            re.IGNORECASE,
        ),
        r"\g<k>" + REDACTED,
    ),
    # JSON / dict-repr fields: "password": "x", 'secret': 'y'.
    (
        re.compile(
            r"(?P<k>[\"'](?:[a-z_-]*(?:password|secret|token|passwd|private_key|key_material))"
            r"[\"']\s*:\s*)(?P<q>[\"'])(?:\\.|(?!(?P=q)).)*(?P=q)",
            re.IGNORECASE,
        ),
        r"\g<k>\g<q>" + REDACTED + r"\g<q>",
    ),
    # The same inside a JSON document embedded in a string (escaped quotes): \"password\": \"x\".
    (
        re.compile(
            r"(?P<k>\\+[\"'][a-z_-]*(?:password|secret|token|passwd|private_key|key_material)"
            r"\\+[\"']\s*:\s*)(?P<o>\\+[\"'])(?:(?!(?P=o)).)*(?P=o)",
            re.IGNORECASE,
        ),
        r"\g<k>\g<o>" + REDACTED + r"\g<o>",
    ),
    # key=value in query strings and CLI-style lines: password=x, client_secret=y.
    (
        re.compile(
            r"(?P<k>\b[a-z_-]*(?:password|secret|passwd|token)=)[^\s&,;\"']+", re.IGNORECASE
        ),
        r"\g<k>" + REDACTED,
    ),
    # Bare Keystone Fernet tokens (always start with gAAAAA) and JWS/JWT tokens.
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
)

_MAX_DEPTH: Final = 8


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret value (``password``, ``X-Auth-Token``, ...)."""
    if not isinstance(key, str):
        return False
    return bool(_SECRET_KEY.search(key)) and not _SAFE_KEY.search(key)


def scrub_text(text: str) -> str:
    """Replace secret-looking substrings (tokens, auth headers, password fields) with ***."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: object, *, _depth: int = 0) -> object:
    """A copy of ``value`` with secrets replaced: SecretStr, secret-named keys, token text.

    Containers are walked (dict, list, tuple, set) to a bounded depth; other objects are
    returned unchanged, since their ``repr`` is their own business (SecretStr fields print ***).
    """
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if _depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if is_secret_key(k) and v is not None else redact(v, _depth=_depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact(v, _depth=_depth + 1) for v in value]
        if isinstance(value, list):
            return items
        return tuple(items) if isinstance(value, tuple) else set(items)
    return value


def truncate(text: str, limit: int = 512) -> str:
    """``text`` cut to ``limit`` characters with a marker, for remote error bodies."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more chars)"
