"""The ``setting()`` field helper: one dataclass field = one INI key, with its docs as metadata.

The schema reads this metadata to map INI keys to fields and pick the parser; the docs (key,
unit, default, meaning) live next to the field so they cannot drift. No parsing happens here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

Parser = Callable[[str | None], Any]


def setting(
    key: str | None,
    default: Any,
    doc: str,
    *,
    unit: str | None = None,
    parse: Parser | None = None,
    repeatable: bool = False,
) -> Any:
    """A frozen-dataclass field read from INI ``key`` (None: not settable from INI).

    ``parse`` overrides the parser chosen from the field's type; ``repeatable`` marks a key that
    may appear several times (gcfg multi-valued variable: each line appends, a blank key clears).
    """
    return dataclasses.field(
        default=default,
        metadata={
            "ini": key,
            "doc": doc,
            "unit": unit,
            "parse": parse,
            "repeatable": repeatable,
        },
    )
