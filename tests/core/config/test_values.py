"""Typed value parsers: gcfg booleans/ints, Go durations, search-order, endpoint type."""

from __future__ import annotations

from datetime import timedelta

import pytest

from osk8s_core.config import values as v


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("on", True),
        ("1", True),
        (None, True),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("0", False),
    ],
)
def test_gcfg_booleans(raw: str | None, expected: bool) -> None:
    assert v.parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["", "y", "2", "truee"])
def test_bad_booleans(raw: str) -> None:
    with pytest.raises(v.ExpectedError, match="boolean"):
        v.parse_bool(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5s", timedelta(seconds=5)),
        ("1m30s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("300ms", timedelta(milliseconds=300)),
        ("2h45m", timedelta(hours=2, minutes=45)),
        ("1500us", timedelta(microseconds=1500)),
        ("1µs", timedelta(microseconds=1)),
        ("0", timedelta(0)),
        ("-1m", timedelta(minutes=-1)),
        (".5s", timedelta(milliseconds=500)),
    ],
)
def test_go_durations(raw: str, expected: timedelta) -> None:
    assert v.parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "5", "s", "5 s", "5sec", "1m30", "1d", None])
def test_bad_durations(raw: str | None) -> None:
    with pytest.raises(v.ExpectedError, match="Go duration"):
        v.parse_duration(raw)


def test_ints() -> None:
    assert v.parse_int(" 42 ") == 42
    assert v.parse_int("-3") == -3
    for bad in ("4.2", "0x10", "", None, "ten"):
        with pytest.raises(v.ExpectedError):
            v.parse_int(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("configDrive", ("configDrive",)),
        ("metadataService, configDrive", ("metadataService", "configDrive")),
        (" configDrive ,metadataService ", ("configDrive", "metadataService")),
    ],
)
def test_search_order(raw: str, expected: tuple[str, ...]) -> None:
    assert v.parse_search_order(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "configdrive", "configDrive,configDrive", "configDrive,metadataService,configDrive", "x"],
)
def test_bad_search_order(raw: str) -> None:
    with pytest.raises(v.ExpectedError, match="configDrive, metadataService"):
        v.parse_search_order(raw)


def test_endpoint_type() -> None:
    assert v.parse_endpoint_type("Internal") == "internal"
    assert v.parse_endpoint_type("publicURL") == "public"
    with pytest.raises(v.ExpectedError):
        v.parse_endpoint_type("private")
