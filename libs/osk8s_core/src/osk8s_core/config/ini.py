"""A reader for the git-config-like INI syntax of gcfg, the Go library CPO parses cloud.conf with.

It turns text into sections and raw entries (lower-cased names, unquoted values, line numbers);
it knows nothing about which keys exist or what their types are (see ``schema``), and it never
opens files itself (the ``loader`` does). Syntax errors raise ``ConfigError`` with the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from osk8s_core.errors import ConfigError

# gcfg: a section name is letters, digits, '-' and '.'; a variable name starts with a letter
# and continues with letters, digits and '-'. Both are case-insensitive.
_SECTION_NAME = re.compile(r"[A-Za-z0-9.\-]+")
_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


@dataclass(frozen=True)
class IniEntry:
    """One ``key = value`` line. ``value`` is None for a blank key (a line without ``=``)."""

    key: str
    value: str | None
    line: int


@dataclass(frozen=True)
class IniSection:
    """A ``[name]`` or ``[name "subsection"]`` header with the entries below it, in order."""

    name: str
    subsection: str | None
    line: int
    entries: tuple[IniEntry, ...]
    spelled: str = ""

    @property
    def title(self) -> str:
        """The header as the file spells it, for messages."""
        name = self.spelled or self.name
        return name if self.subsection is None else f'{name} "{self.subsection}"'


def parse_ini(text: str, *, source: str) -> tuple[IniSection, ...]:
    """Parse gcfg INI text; ``source`` (the file name) only labels errors."""
    sections: list[IniSection] = []
    current: tuple[str, str | None, int, str] | None = None
    entries: list[IniEntry] = []
    for number, line in _logical_lines(text, source=source):
        stripped = line.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("["):
            if current is not None:
                sections.append(
                    IniSection(current[0], current[1], current[2], tuple(entries), current[3])
                )
            name, sub = _parse_header(stripped, source=source, line=number)
            current, entries = (name.lower(), sub, number, name), []
            continue
        if current is None:
            raise _syntax(source, None, number, "a key outside any section", "a [section] header")
        entries.append(_parse_entry(stripped, source=source, section=current, line=number))
    if current is not None:
        sections.append(IniSection(current[0], current[1], current[2], tuple(entries), current[3]))
    return tuple(sections)


def _logical_lines(text: str, *, source: str) -> list[tuple[int, str]]:
    """Join backslash-continued lines (gcfg allows them inside values); keep first line number."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if _ends_with_continuation(raw):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        out.append((start, "".join(pending)))
        pending = []
    if pending:
        raise _syntax(source, None, start, "line continuation at end of file", "another line")
    return out


def _ends_with_continuation(raw: str) -> bool:
    # An odd number of trailing backslashes means the last one escapes the newline.
    trailing = len(raw) - len(raw.rstrip("\\"))
    return trailing % 2 == 1


def _parse_header(text: str, *, source: str, line: int) -> tuple[str, str | None]:
    body = _strip_comment(text, source=source, section=None, line=line).strip()
    if not body.endswith("]"):
        raise _syntax(source, None, line, f"bad section header {text!r}", '[name] or [name "sub"]')
    inner = body[1:-1].strip()
    quote = inner.find('"')
    name = (inner if quote < 0 else inner[:quote]).strip()
    if not _SECTION_NAME.fullmatch(name):
        raise _syntax(source, None, line, f"bad section name {name!r}", "letters, digits, '-', '.'")
    if quote < 0:
        return name, None
    rest = inner[quote:]
    if len(rest) < 2 or not rest.endswith('"'):
        raise _syntax(source, name, line, "unterminated subsection name", 'a closing "')
    return name, _unescape_subsection(rest[1:-1], source=source, line=line)


def _unescape_subsection(raw: str, *, source: str, line: int) -> str:
    out: list[str] = []
    chars = iter(raw)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in ('"', "\\"):
                raise _syntax(source, None, line, "bad escape in subsection", '\\" or \\\\')
            out.append(nxt)
        elif char == '"':
            raise _syntax(source, None, line, "stray quote in subsection", 'a \\" escape')
        else:
            out.append(char)
    return "".join(out)


def _parse_entry(
    text: str, *, source: str, section: tuple[str, str | None, int, str], line: int
) -> IniEntry:
    match = _KEY_NAME.match(text)
    if match is None:
        raise _syntax(source, section[3], line, "cannot read a key here", "name = value")
    key = match.group(0).lower()
    rest = text[match.end() :].lstrip()
    if not rest or rest[0] in ";#":
        return IniEntry(key, None, line)  # blank key: true for booleans, resets lists
    if rest[0] != "=":
        raise _syntax(source, section[3], line, "cannot read a key here", "name = value")
    value = _unquote(rest[1:], source=source, section=section[3], line=line)
    return IniEntry(key, value, line)


def _strip_comment(text: str, *, source: str, section: str | None, line: int) -> str:
    """Cut a trailing ; or # comment that is outside double quotes."""
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in ";#" and not quoted:
            return text[:index]
    if quoted:
        raise _syntax(source, section, line, "unterminated quoted string", 'a closing "')
    return text


def _unquote(raw: str, *, source: str, section: str, line: int) -> str:
    """gcfg value rules: trim outer blanks, drop quotes, keep inner text, decode escapes."""
    body = _strip_comment(raw, source=source, section=section, line=line).strip()
    out: list[str] = []
    quoted = False
    chars = iter(body)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in _ESCAPES:
                raise _syntax(
                    source, section, line, f"bad escape \\{nxt}", 'one of \\\\ \\" \\n \\t \\b'
                )
            out.append(_ESCAPES[nxt])
        elif char == '"':
            quoted = not quoted
        else:
            out.append(char)
    return "".join(out)


def _syntax(
    source: str, section: str | None, line: int, message: str, expected: str
) -> ConfigError:
    return ConfigError(f"line {line}: {message}", file=source, section=section, expected=expected)
