"""The core's Go flag layer: pflag's argv rules, value kinds, errors and exit codes."""

from __future__ import annotations

import argparse
import io
from datetime import timedelta

import pytest

from osk8s_core import cli
from osk8s_core.cli.goflags import GoFlagParser
from osk8s_core.govalues import GoValueError, parse_go_bool, parse_go_duration


def parser(style: cli.ErrorStyle = "cobra") -> GoFlagParser:
    p = cli.build_parser("prog", "test binary", error_style=style)
    p.add_argument("--cluster", default="")
    cli.add_bool(p, "--with-topology", default=True)
    cli.add_bool(p, "--pvc-annotations")
    cli.add_string_slice(p, "--cloud-config")
    cli.add_string_slice(p, "--controllers", default=("*",))
    cli.add_string_array(p, "--user-agent")
    cli.add_string_to_string(p, "--additional-topology")
    cli.add_duration(p, "--min-resync-period", default="12h")
    cli.add_feature_gates(p)
    p.add_argument("--burst", type=cli.go_int, default=10)
    p.warning_stream = io.StringIO()
    return p


def parse(*argv: str, style: cli.ErrorStyle = "cobra") -> tuple[argparse.Namespace, str]:
    p = parser(style)
    ns = p.parse_args(list(argv))
    assert isinstance(p.warning_stream, io.StringIO)
    return ns, p.warning_stream.getvalue()


def fails(
    capsys: pytest.CaptureFixture[str], *argv: str, style: cli.ErrorStyle = "cobra"
) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        parser(style).parse_args(list(argv))
    code = exc.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


# -- booleans ------------------------------------------------------------------------------------


def test_bare_boolean_is_true_and_defaults_hold() -> None:
    ns, warnings = parse("--pvc-annotations")
    assert ns.pvc_annotations is True and ns.with_topology is True and warnings == ""


@pytest.mark.parametrize("spelling", ["1", "t", "T", "TRUE", "true", "True"])
def test_every_go_true_spelling(spelling: str) -> None:
    assert parse(f"--pvc-annotations={spelling}")[0].pvc_annotations is True


@pytest.mark.parametrize("spelling", ["0", "f", "F", "FALSE", "false", "False"])
def test_every_go_false_spelling(spelling: str) -> None:
    assert parse(f"--with-topology={spelling}")[0].with_topology is False


def test_space_separated_false_does_not_set_false() -> None:
    ns, warnings = parse("--with-topology", "false", "--cluster=c")
    assert ns.with_topology is True
    assert ns.cluster == "c"  # pflag keeps parsing flags after a positional
    assert "ignoring non-flag arguments ['false']" in warnings


@pytest.mark.parametrize("bad", ["yes", "tRuE", "", "2"])
def test_bad_boolean_names_the_flag(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, err = fails(capsys, f"--with-topology={bad}")
    assert code == 1
    assert "argument --with-topology" in err and "Go boolean" in err


def test_store_true_flags_become_go_booleans() -> None:
    p = cli.build_parser("prog", "d")
    p.add_argument("--debug", action="store_true")
    assert p.parse_args(["--debug=false"]).debug is False
    assert p.parse_args(["--debug"]).debug is True


# -- lists and maps ------------------------------------------------------------------------------


def test_string_slice_splits_commas_and_accumulates_repeats() -> None:
    ns, _ = parse("--cloud-config=/a,/b", "--cloud-config", "/c", "-cloud-config=/d")
    assert ns.cloud_config == ["/a", "/b", "/c", "/d"]


def test_string_slice_csv_quoting_and_default_replacement() -> None:
    ns, _ = parse('--controllers="a,b",-c')
    assert ns.controllers == ["a,b", "-c"]  # first use replaces the default ["*"]
    assert parse()[0].controllers == ["*"]
    assert parse("--cloud-config=")[0].cloud_config == []


def test_string_array_repeats_without_splitting() -> None:
    ns, _ = parse("--user-agent=a,b", "--user-agent", "c")
    assert ns.user_agent == ["a,b", "c"]


def test_string_to_string_pairs_merge_across_repeats() -> None:
    ns, _ = parse("--additional-topology", "a=1,b=2", "--additional-topology=b=3")
    assert ns.additional_topology == {"a": "1", "b": "3"}
    # One '=' is one pair: the value may contain commas (pflag's StringToString).
    assert parse("--additional-topology=k=v,w")[0].additional_topology == {"k": "v,w"}


def test_string_to_string_needs_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = fails(capsys, "--additional-topology=novalue")
    assert code == 1 and "argument --additional-topology" in err and "key=value" in err


def test_feature_gates_are_a_map_of_go_booleans(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = parse("--feature-gates=Topology=true,PriorityQueue=F")
    assert ns.feature_gates == {"Topology": True, "PriorityQueue": False}
    code, err = fails(capsys, "--feature-gates=Topology=maybe")
    assert code == 1 and "argument --feature-gates" in err


# -- durations and integers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("300ms", timedelta(milliseconds=300)),
        ("1µs", timedelta(microseconds=1)),
        ("2h45m30.5s", timedelta(hours=2, minutes=45, seconds=30.5)),
        ("-1m", timedelta(minutes=-1)),
        ("+3s", timedelta(seconds=3)),
        ("0", timedelta(0)),
        ("-0", timedelta(0)),
    ],
)
def test_go_durations(text: str, expected: timedelta) -> None:
    assert parse(f"--min-resync-period={text}")[0].min_resync_period == expected
    assert parse_go_duration(text) == expected


def test_duration_default_is_parsed() -> None:
    assert parse()[0].min_resync_period == timedelta(hours=12)


@pytest.mark.parametrize("bad", ["5", "1d", "", "5 s", "1m30", "s", ".s", "3000000h"])
def test_bad_duration_names_the_flag(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, err = fails(capsys, f"--min-resync-period={bad}")
    assert code == 1
    assert "argument --min-resync-period" in err and "Go duration" in err


def test_go_value_parsers_reject_non_go_spellings() -> None:
    for bad in ("yes", "on", " true"):
        with pytest.raises(GoValueError):
            parse_go_bool(bad)
    with pytest.raises(GoValueError):
        parse_go_duration(" 5s")


@pytest.mark.parametrize(("text", "value"), [("12", 12), ("0x10", 16), ("010", 8), ("-3", -3)])
def test_integers_as_strconv(text: str, value: int) -> None:
    assert parse(f"--burst={text}")[0].burst == value


# -- argv forms ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["-v=3"], ["-v", "3"], ["-v3"], ["--v=3"], ["--v", "3"], ["-v", "3", "--", "x"]],
)
def test_klog_v_in_every_form(argv: list[str]) -> None:
    assert parse(*argv)[0].verbosity == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["-cluster=c1"],
        ["-cluster", "c1"],
        ["--cluster", "c1"],
        ["--cluster=c1"],
        ["-cluster", "c0", "--cluster=c1"],
    ],
)
def test_single_and_double_dash_long_flags(argv: list[str]) -> None:
    assert parse(*argv)[0].cluster == "c1"


def test_single_dash_boolean_and_underscores() -> None:
    ns, _ = parse("-with_topology=false", "-pvc-annotations", "--log_file=/tmp/x")
    assert ns.with_topology is False and ns.pvc_annotations is True and ns.log_file == "/tmp/x"


def test_value_may_start_with_a_dash_and_be_empty() -> None:
    assert parse("--cluster", "-x")[0].cluster == "-x"
    assert parse("--cluster=")[0].cluster == ""


def test_double_dash_ends_flags() -> None:
    ns, warnings = parse("--cluster=a", "--", "--cluster=b", "--no-such-flag")
    assert ns.cluster == "a"
    assert "['--cluster=b', '--no-such-flag']" in warnings


# -- errors, as upstream reports them -----------------------------------------------------------


def test_unknown_flag_cobra_style(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = fails(capsys, "--no-such-flag")
    assert code == 1
    assert err.startswith("usage: prog [flags]")
    assert err.rstrip().endswith("Error: unknown flag: --no-such-flag")


def test_unknown_flag_pflag_style(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = fails(capsys, "--no-such-flag", style="pflag")
    assert code == 2
    assert err.startswith("unknown flag: --no-such-flag\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-nope=1"], "unknown shorthand flag: 'n' in -nope=1"),
        (["--cluster"], "flag needs an argument: --cluster"),
        (["-v"], "flag needs an argument: 'v' in -v"),
        (["---x"], "bad flag syntax: ---x"),
        (["--=x"], "bad flag syntax: --=x"),
        (["--help=maybe"], "invalid argument 'maybe' for '--help' flag"),
    ],
)
def test_argv_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, err = fails(capsys, *argv)
    assert code == 1 and f"Error: {message}" in err


@pytest.mark.parametrize("flag", ["--help", "-h", "-help"])
def test_help_exits_zero(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args([flag])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: prog [flags]")


def test_inert_klog_flags_warn_once_naming_them() -> None:
    ns, warnings = parse(
        "--logtostderr=false", "--skip-headers", "--log-dir=/var/log", "-stderrthreshold=1"
    )
    assert ns.logtostderr is False
    lines = warnings.splitlines()
    assert lines == [
        "prog: warning: accepted for compatibility, without effect here: "
        "--log-dir, --skip-headers, --stderrthreshold"
    ]
