"""A wrapper for secret values (passwords, tokens, application credential secrets, keys).

Secrets live in config objects and travel to openstacksdk, but must never reach a log line,
an exception message or a ``repr``. ``SecretStr`` prints as ``***`` everywhere; the one way
to get the value is ``reveal()``, called only where the value leaves for the wire.
"""

from __future__ import annotations

from typing import Final

REDACTED: Final = "***"


class SecretStr:
    """An immutable secret string whose ``str``/``repr``/``format`` are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SecretStr is immutable")

    def reveal(self) -> str:
        """The real value; call only at the boundary where it is sent to a server."""
        return str(object.__getattribute__(self, "_value"))

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return hash(("SecretStr", self.reveal()))

    def __repr__(self) -> str:
        return f"SecretStr('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would be a way to leak the value into caches or crash dumps.
        raise TypeError("SecretStr cannot be pickled")


def reveal_or_none(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.reveal()
