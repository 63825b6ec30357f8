"""klog's and component-base's logging flags, as every CPO/CAPO binary accepts them.

Honoured: ``-v``/``--v`` (verbosity), ``--vmodule`` (per-logger verbosity), ``--log-file``
(logs are written there; also to stderr unless ``--logtostderr=false``), ``--logtostderr``,
``--alsologtostderr``, ``--logging-format`` (``text`` is our console rendering). Accepted with
one warning line naming them, because they tune klog's own file/header machinery which we do
not have: ``--log-dir``, ``--log-file-max-size``, ``--skip-headers``, ``--skip-log-headers``,
``--add-dir-header``, ``--one-output``, ``--stderrthreshold``, ``--log-backtrace-at``,
``--log-flush-frequency``, ``--log-json-*``, ``--log-text-*``. Values are still type-checked,
so a typo fails as it would upstream.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from osk8s_core.cli.goflags import GoFlagParser, add_bool, go_duration, go_int

DEFAULT_VERBOSITY: Final = 2
_VMODULE_ITEM: Final = re.compile(r"([^=,]+)=(\d+)")


def parse_vmodule(text: str) -> tuple[tuple[str, int], ...]:
    """klog's ``--vmodule``: ``pattern=N[,pattern=N]``; patterns are globs."""
    items: list[tuple[str, int]] = []
    for part in filter(None, text.split(",")):
        match = _VMODULE_ITEM.fullmatch(part)
        if match is None:
            raise argparse.ArgumentTypeError(
                f"invalid value {part!r}: expected a comma-separated list of pattern=N"
            )
        items.append((match.group(1), int(match.group(2))))
    return tuple(items)


def add_klog_flags(parser: GoFlagParser) -> None:
    group = parser.add_argument_group("logging (klog / component-base compatible)")
    group.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=go_int,
        default=DEFAULT_VERBOSITY,
        help="log verbosity, klog-compatible: >=4 enables debug, >=6 library debug",
    )
    group.add_argument(
        "--vmodule",
        type=parse_vmodule,
        default=(),
        metavar="PATTERN=N,...",
        help="per-logger verbosity; a pattern (glob) matches a logger name or its last part",
    )
    group.add_argument("--log-file", default="", help="also write logs to this file")
    add_bool(
        group,
        "--logtostderr",
        default=True,
        help="log to stderr; with --log-file, false means the file only",
    )
    add_bool(group, "--alsologtostderr", help="log to stderr as well as to --log-file")
    group.add_argument(
        "--log-format", choices=("console", "json"), default="json", help="log line format"
    )
    group.add_argument(
        "--logging-format",
        choices=("text", "json"),
        default=None,
        help="component-base spelling: text (console rendering) or json; wins over --log-format",
    )
    inert = parser.add_inert
    inert(group, "--log-dir", default="", help="klog: accepted, without effect")
    inert(group, "--log-file-max-size", type=go_int, default=1800, help="klog: accepted")
    for flag in ("--skip-headers", "--skip-log-headers", "--add-dir-header", "--one-output"):
        inert(group, flag, action="store_true", help="klog: accepted, without effect")
    inert(group, "--stderrthreshold", default="2", help="klog: accepted, without effect")
    inert(group, "--log-backtrace-at", default="", help="klog: accepted, without effect")
    inert(group, "--log-flush-frequency", type=go_duration, default="5s", help="accepted")
    for fmt in ("json", "text"):
        inert(group, f"--log-{fmt}-info-buffer-size", default="0", help="accepted")
        inert(group, f"--log-{fmt}-split-stream", action="store_true", help="accepted")


@dataclass(frozen=True)
class LogFlags:
    """What the logging flags ask of ``osk8s_core.logging.configure_logging``."""

    verbosity: int = DEFAULT_VERBOSITY
    vmodule: tuple[tuple[str, int], ...] = ()
    log_file: str = ""
    to_stderr: bool = True
    fmt: Literal["json", "console"] = "json"

    def logging_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``osk8s_core.logging.configure_logging``."""
        return {
            "fmt": self.fmt,
            "verbosity": self.verbosity,
            "log_file": self.log_file,
            "to_stderr": self.to_stderr,
            "vmodule": self.vmodule,
        }


def log_flags(ns: argparse.Namespace) -> LogFlags:
    """The logging part of a parsed command line (parsers built by ``cli.build_parser``)."""
    fmt: Literal["json", "console"] = "console" if ns.log_format == "console" else "json"
    if ns.logging_format is not None:
        fmt = "console" if ns.logging_format == "text" else "json"
    return LogFlags(
        verbosity=ns.verbosity,
        vmodule=tuple(ns.vmodule),
        log_file=ns.log_file,
        # klog: --logtostderr (default true) sends everything to stderr; with a --log-file we
        # write the file too (klog would ignore it), and =false means the file only.
        to_stderr=ns.logtostderr or ns.alsologtostderr or not ns.log_file,
        fmt=fmt,
    )
