"""String formats as kube-openapi's strfmt registry checks them for custom resources.

Only string values are checked, and only for formats the registry knows; unknown formats and
the numeric ones (``int32``, ``int64``, ``float``, ``double``) are not validated, as upstream.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
from collections.abc import Callable

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UUID_V = {
    "uuid3": re.compile(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-3[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ),
    "uuid4": re.compile(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
    ),
    "uuid5": re.compile(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-5[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
    ),
}
_HOSTNAME_LABEL = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}([:-]))([0-9a-fA-F]{2}\2){4}[0-9a-fA-F]{2}$")
_DURATION = re.compile(r"^(-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")


def _matcher(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: bool(rx.match(value))


def _uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def _date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    text = value.replace("z", "Z").replace("t", "T").replace(" ", "T")
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _hostname(value: str) -> bool:
    if not value or len(value) > 255:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in value.rstrip(".").split("."))


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


CHECKS: dict[str, Callable[[str], bool]] = {
    "uuid": _uuid,
    **{name: _matcher(rx) for name, rx in _UUID_V.items()},
    "date-time": _date_time,
    "datetime": _date_time,
    "date": _date,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "hostname": _hostname,
    "byte": _byte,
    "mac": _matcher(_MAC),
    "duration": _matcher(_DURATION),
}


def valid(fmt: str, value: str) -> bool:
    """Whether ``value`` has format ``fmt``; formats upstream does not check always pass."""
    check = CHECKS.get(fmt)
    return True if check is None else check(value)
