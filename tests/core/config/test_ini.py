"""gcfg syntax: comments, quoting, escapes, case, subsections, blank keys, continuations."""

from __future__ import annotations

import pytest

from osk8s_core.config.ini import parse_ini
from osk8s_core.errors import ConfigError


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_ini(text, source="cloud.conf")


def test_sections_keys_case_insensitive_and_subsection_kept() -> None:
    (glob, named) = parse('[GLOBAL]\nAuth-URL = x\n[Global "Cinder"]\nRegion=r\n')
    assert (glob.name, glob.subsection, glob.title) == ("global", None, "GLOBAL")
    assert glob.entries[0].key == "auth-url"
    assert (named.name, named.subsection) == ("global", "Cinder")  # subsection keeps case
    assert named.title == 'Global "Cinder"'


def test_comments_everywhere_but_inside_quotes() -> None:
    (section,) = parse(
        "; leading comment\n# another\n[Global] ; after header\n"
        'password = "a;b#c"  ; trailing\nusername = bob # trailing\n'
    )
    values = {e.key: e.value for e in section.entries}
    assert values == {"password": "a;b#c", "username": "bob"}


def test_quotes_escapes_and_inner_whitespace() -> None:
    (section,) = parse(
        '[s]\na = "  padded  "\nb = one  two\nc = x"q"y\nd = "tab\\tnl\\nq\\"bs\\\\"\ne =\n'
    )
    values = {e.key: e.value for e in section.entries}
    assert values == {
        "a": "  padded  ",
        "b": "one  two",
        "c": "xqy",
        "d": 'tab\tnl\nq"bs\\',
        "e": "",
    }


def test_blank_key_has_no_value_and_line_numbers_are_kept() -> None:
    (section,) = parse("\n[s]\n\nflag\nk = v\n")
    assert [(e.key, e.value, e.line) for e in section.entries] == [
        ("flag", None, 4),
        ("k", "v", 5),
    ]


def test_backslash_continues_a_line() -> None:
    (section,) = parse("[s]\nk = one \\\n two\n")
    assert section.entries[0].value == "one  two"


def test_subsection_escapes() -> None:
    (section,) = parse('[LoadBalancerClass "a \\"b\\" \\\\c"]\n')
    assert section.subsection == 'a "b" \\c'


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("k = v\n", 1, "outside any section"),
        ('[s]\nk = "open\n', 2, "unterminated quoted string"),
        ("[s\n", 1, "bad section header"),
        ("[s]\n9bad = 1\n", 2, "cannot read a key"),
        ("[s]\nk v\n", 2, "cannot read a key"),
        ("[s]\nk = a\\qb\n", 2, "bad escape"),
        ('[s"x]\n', 1, "unterminated"),
        ("[s]\nk = a\\\n", 2, "continuation at end of file"),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.file == "cloud.conf"
    assert f"line {line}" in str(info.value)
    assert fragment in str(info.value)


def test_syntax_error_does_not_echo_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse("[Global]\npass word = hunter2-secret\n")
    assert "hunter2" not in str(info.value)
