"""Go flag semantics on argparse: what pflag, cobra and Go's ``flag`` package accept, once.

CPO's binaries parse flags with spf13/pflag (through cobra and component-base ``cli.Run``),
with klog's Go ``flag`` set merged in. ``GoFlagParser`` reads argv the way pflag does and
hands argparse only canonical ``--name=value`` tokens, so argparse keeps doing what it does
well (defaults, types, ``--help``) while the argv rules are Go's:

- ``--name=value`` and ``--name value``; a non-boolean flag takes the next argument even when
  it starts with ``-`` (pflag); ``-name`` and ``-name=value`` for long names (Go's ``flag``);
- shorthands: ``-v=2``, ``-v 2``, ``-v2``;
- booleans: bare ``--name`` is true, ``--name=<strconv.ParseBool>`` sets it; ``--name false``
  does NOT set false ("false" is a positional argument, as in pflag);
- ``_`` and ``-`` are the same in names (component-base's ``WordSepNormalizeFunc``);
- ``--`` ends the flags; positional arguments are ignored, as cobra's root commands and
  ``pflag.Parse`` ignore them, but one warning line names them;
- unknown flags and bad values are errors, reported as pflag reports them and with upstream's
  exit status: 1 for cobra/``cli.Run`` binaries, 2 for ``pflag.Parse`` (``ExitOnError``).

Value kinds match pflag's: ``add_bool`` (Bool), ``add_string_slice`` (StringSlice: CSV split,
repeats accumulate), ``add_string_array`` (StringArray: repeats only), ``add_string_to_string``
(StringToString ``k=v,k=v``), ``go_duration`` (Duration). As in pflag, the first use of a list
flag replaces its default. Stdlib only: ``--help`` must stay import-light.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import IO, Any, Final, Literal, NoReturn

from osk8s_core.govalues import GoValueError, parse_go_bool, parse_go_duration

ErrorStyle = Literal["cobra", "pflag"]
"""How a flag error is reported: component-base ``cli.Run`` (usage, then ``Error: <msg>``,
exit 1) or ``pflag.Parse`` with ExitOnError (``<msg>``, then usage, exit 2)."""

EXIT_STATUS: Final[dict[str, int]] = {"cobra": 1, "pflag": 2}


# -- value types (argparse ``type=`` callables; their messages name what was expected) --------


def go_bool(text: str) -> bool:
    try:
        return parse_go_bool(text)
    except GoValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {exc}") from None


def go_duration(text: str) -> timedelta:
    try:
        return parse_go_duration(text)
    except GoValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {exc}") from None


def go_int(text: str) -> int:
    """``strconv.ParseInt(s, 0, 64)`` as pflag's Int: decimal, ``0x``, ``0o``/``0``, ``0b``."""
    try:
        return int(text, 0) if not _is_legacy_octal(text) else int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected an integer") from None


def _is_legacy_octal(text: str) -> bool:
    digits = text.lstrip("+-")
    return len(digits) > 1 and digits.startswith("0") and digits.isdigit()


def csv_fields(text: str) -> list[str]:
    """pflag's ``readAsCSV``: one CSV record; an empty string is an empty list."""
    if text == "":
        return []
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: {exc}") from None


def string_pairs(text: str) -> dict[str, str]:
    """pflag's StringToString ``Set``: one ``=`` means one pair (the value may hold commas)."""
    count = text.count("=")
    if count == 0:
        raise argparse.ArgumentTypeError(f"{text} must be formatted as key=value")
    fields = [text.strip('"')] if count == 1 else csv_fields(text)
    out: dict[str, str] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{field} must be formatted as key=value")
        out[key] = value
    return out


def bool_pairs(text: str) -> dict[str, bool]:
    """component-base's ``--feature-gates`` (MapStringBool): ``Name=bool[,Name=bool]``."""
    out: dict[str, bool] = {}
    for field in filter(None, (f.strip() for f in text.split(","))):
        key, sep, value = field.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"missing bool value for {field!r}")
        try:
            out[key.strip()] = parse_go_bool(value.strip())
        except GoValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid value of {key}: {exc}") from None
    return out


# -- actions ------------------------------------------------------------------------------------


class BoolAction(argparse.Action):
    """A pflag Bool: bare means true (the parser supplies ``=true``), else ParseBool."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        kwargs.setdefault("metavar", "true|false")
        super().__init__(option_strings, dest, type=go_bool, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)


class _ListAction(argparse.Action):
    """Accumulating flags; the first use replaces the default, as pflag's ``changed`` does."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        current = getattr(namespace, self.dest, None)
        first = current is self.default or current is None
        setattr(namespace, self.dest, self.merge(None if first else current, values))

    def merge(self, current: Any, values: Any) -> Any:
        raise NotImplementedError


class StringSliceAction(_ListAction):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", [])
        super().__init__(option_strings, dest, type=csv_fields, **kwargs)

    def merge(self, current: list[str] | None, values: list[str]) -> list[str]:
        return [*(current or []), *values]


class StringArrayAction(_ListAction):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", [])
        super().__init__(option_strings, dest, **kwargs)

    def merge(self, current: list[str] | None, values: str) -> list[str]:
        return [*(current or []), values]


class StringToStringAction(_ListAction):
    """pflag's StringToString; later keys win across repeats."""

    METAVAR: str = "KEY=VALUE,..."

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", {})
        kwargs.setdefault("metavar", self.METAVAR)
        super().__init__(option_strings, dest, type=self.parse_pairs, **kwargs)

    @staticmethod
    def parse_pairs(text: str) -> dict[str, Any]:
        return string_pairs(text)

    def merge(self, current: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
        return {**(current or {}), **values}


class MapStringBoolAction(StringToStringAction):
    """component-base's MapStringBool (``--feature-gates``)."""

    METAVAR = "NAME=BOOL,..."

    @staticmethod
    def parse_pairs(text: str) -> dict[str, Any]:
        return bool_pairs(text)


# -- the parser ---------------------------------------------------------------------------------


class FlagError(Exception):
    """An argv error, worded as pflag words it (``unknown flag: --x``)."""


def normalize_name(name: str) -> str:
    """component-base ``WordSepNormalizeFunc``: ``--log_file`` is ``--log-file``."""
    return name.replace("_", "-")


class GoFlagParser(argparse.ArgumentParser):
    """argparse with pflag's argv rules in front (see the module docstring).

    ``error_style`` picks upstream's error report and exit status. Flags registered through
    ``add_inert`` are accepted and, when given, named in one warning line.
    """

    def __init__(self, *args: Any, error_style: ErrorStyle = "cobra", **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.error_style: ErrorStyle = error_style
        self.inert_flags: set[str] = set()
        self.warning_stream: IO[str] | None = None
        """Where warnings go; None means sys.stderr at the time of writing."""
        # argparse's store_true becomes a Go bool (in argument groups too: they share the
        # registry), so ``--flag=false`` works for every boolean.
        self.register("action", "store_true", BoolAction)

    def add_inert(self, container: Any, *names: str, **kwargs: Any) -> argparse.Action:
        """A flag accepted for compatibility without effect: warned about when given."""
        action: argparse.Action = container.add_argument(*names, **kwargs)
        self.inert_flags.update(action.option_strings)
        return action

    # -- argv -> canonical tokens ---------------------------------------------------------------

    def _flag_tables(self) -> tuple[dict[str, argparse.Action], dict[str, argparse.Action]]:
        longs: dict[str, argparse.Action] = {}
        shorts: dict[str, argparse.Action] = {}
        for action in self._actions:
            for option in action.option_strings:
                if option.startswith("--"):
                    longs[normalize_name(option[2:])] = action
                elif len(option) == 2:
                    shorts[option[1]] = action
                else:  # "-name" registered directly: a long name in Go's flag style
                    longs[normalize_name(option[1:])] = action
        return longs, shorts

    @staticmethod
    def _canonical(action: argparse.Action) -> str:
        return next(
            (o for o in action.option_strings if o.startswith("--")), action.option_strings[0]
        )

    def normalize_argv(self, argv: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """pflag's parse loop: (canonical tokens for argparse, positionals, flags given)."""
        longs, shorts = self._flag_tables()
        tokens: list[str] = []
        positionals: list[str] = []
        given: list[str] = []
        rest = list(argv)

        def emit(action: argparse.Action, value: str | None) -> None:
            canonical = self._canonical(action)
            given.append(canonical)
            if action.nargs == 0:  # help, version, counters: no value of their own
                if value is None or _truthy(value, canonical):
                    tokens.append(canonical)
                return
            tokens.append(f"{canonical}={value}")

        while rest:
            arg = rest.pop(0)
            if arg == "--":
                positionals.extend(rest)
                break
            if len(arg) < 2 or not arg.startswith("-"):
                positionals.append(arg)
                continue
            if arg.startswith("--"):
                self._long(arg, arg[2:], longs, rest, emit)
                continue
            name = normalize_name(arg[1:].split("=", 1)[0])
            if len(name) > 1 and name in longs:  # Go flag style: -name, -name=value
                self._long(arg, arg[1:], longs, rest, emit)
            else:
                self._shorts(arg, shorts, rest, emit)
        return tokens, positionals, given

    @staticmethod
    def _takes_no_value(action: argparse.Action) -> bool:
        return action.nargs == 0 or isinstance(action, BoolAction)

    def _long(
        self,
        arg: str,
        body: str,
        longs: dict[str, argparse.Action],
        rest: list[str],
        emit: Callable[[argparse.Action, str | None], None],
    ) -> None:
        if not body or body[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        raw_name, sep, value = body.partition("=")
        action = longs.get(normalize_name(raw_name))
        if action is None:
            raise FlagError(f"unknown flag: --{raw_name}")
        if sep:
            emit(action, value)
        elif self._takes_no_value(action):
            emit(action, "true" if isinstance(action, BoolAction) else None)
        elif rest:
            emit(action, rest.pop(0))
        else:
            raise FlagError(f"flag needs an argument: {arg}")

    def _shorts(
        self,
        arg: str,
        shorts: dict[str, argparse.Action],
        rest: list[str],
        emit: Callable[[argparse.Action, str | None], None],
    ) -> None:
        chars = arg[1:]
        while chars:
            char, chars = chars[0], chars[1:]
            action = shorts.get(char)
            if action is None:
                raise FlagError(f"unknown shorthand flag: {char!r} in {arg}")
            if chars.startswith("="):
                emit(action, chars[1:])
                return
            if self._takes_no_value(action):
                emit(action, "true" if isinstance(action, BoolAction) else None)
            elif chars:
                emit(action, chars)
                return
            elif rest:
                emit(action, rest.pop(0))
                return
            else:
                raise FlagError(f"flag needs an argument: {char!r} in {arg}")

    # -- argparse entry points ------------------------------------------------------------------

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = sys.argv[1:] if args is None else list(args)
        try:
            tokens, positionals, given = self.normalize_argv(argv)
        except FlagError as exc:
            self.error(str(exc))
        parsed, extras = super().parse_known_args(tokens, namespace)
        self._warn(positionals, given)
        return parsed, extras

    def _warn(self, positionals: Sequence[str], given: Iterable[str]) -> None:
        stream = self.warning_stream or sys.stderr
        inert = sorted({flag for flag in given if flag in self.inert_flags})
        if inert:
            stream.write(
                f"{self.prog}: warning: accepted for compatibility, without effect here: "
                f"{', '.join(inert)}\n"
            )
        if positionals:
            stream.write(
                f"{self.prog}: warning: ignoring non-flag arguments {list(positionals)!r} "
                "(a boolean flag takes its value as --flag=false, not --flag false)\n"
            )

    def error(self, message: str) -> NoReturn:
        """Report as upstream does: cobra prints usage then ``Error: ...`` and exits 1;
        ``pflag.Parse`` prints the message then usage and exits 2."""
        if self.error_style == "cobra":
            self.print_usage(sys.stderr)
            self.exit(EXIT_STATUS["cobra"], f"Error: {message}\n")
        sys.stderr.write(f"{message}\n")
        self.print_usage(sys.stderr)
        self.exit(EXIT_STATUS["pflag"])


def _truthy(value: str, flag: str) -> bool:
    try:
        return parse_go_bool(value)
    except GoValueError as exc:
        raise FlagError(f"invalid argument {value!r} for {flag!r} flag: expected {exc}") from None


def add_bool(container: Any, *names: str, default: bool = False, help: str = "") -> None:
    """A pflag Bool flag (bare = true, ``=false`` sets false)."""
    container.add_argument(*names, action=BoolAction, default=default, help=help)


def add_string_slice(
    container: Any, *names: str, default: Sequence[str] = (), help: str = ""
) -> None:
    """A pflag StringSlice: comma-separated (CSV quoting) and repeatable; accumulates."""
    container.add_argument(
        *names, action=StringSliceAction, default=list(default), metavar="VALUE,...", help=help
    )


def add_string_array(container: Any, *names: str, help: str = "") -> None:
    """A pflag StringArray: repeatable, no comma splitting."""
    container.add_argument(*names, action=StringArrayAction, default=[], metavar="VALUE", help=help)


def add_string_to_string(container: Any, *names: str, help: str = "") -> None:
    """A pflag StringToString: ``k=v,k=v``, repeatable; later keys win."""
    container.add_argument(*names, action=StringToStringAction, default={}, help=help)


def add_duration(container: Any, *names: str, default: str, help: str = "") -> None:
    """A pflag Duration: Go syntax (``90s``, ``5m``, ``1h30m``); parsed into a timedelta."""
    container.add_argument(*names, type=go_duration, default=default, metavar="DURATION", help=help)


def add_feature_gates(container: Any, help: str = "feature gates: Name=true|false,...") -> None:
    """component-base's ``--feature-gates`` (MapStringBool); repeats merge."""
    container.add_argument("--feature-gates", action=MapStringBoolAction, default={}, help=help)
