"""klog's flags: -v, --vmodule, --log-file, --logtostderr honoured; the rest accepted, warned."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from osk8s_core import cli
from osk8s_core.logging import configure_logging, get_logger


def flags(*argv: str) -> cli.LogFlags:
    parser = cli.build_parser("prog", "d")
    parser.warning_stream = io.StringIO()
    return cli.log_flags(parser.parse_args(list(argv)))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_defaults() -> None:
    assert flags() == cli.LogFlags(verbosity=2, vmodule=(), log_file="", to_stderr=True, fmt="json")


def test_log_file_and_stderr_choices() -> None:
    assert flags("--log-file=/x").to_stderr is True  # klog would ignore the file; we write both
    assert flags("--log-file=/x", "--logtostderr=false").to_stderr is False
    assert flags("--log_file=/x", "-logtostderr=false", "--alsologtostderr").to_stderr is True
    assert flags("--logtostderr=false").to_stderr is True  # no file: stderr is all there is


def test_formats() -> None:
    assert flags("--logging-format=text").fmt == "console"
    assert flags("--log-format=console", "--logging-format=json").fmt == "json"
    assert flags("--log-format=console").fmt == "console"


def test_vmodule_parses_and_bad_syntax_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert flags("--vmodule=kms*=5,osk8s.cinder_csi.node=4").vmodule == (
        ("kms*", 5),
        ("osk8s.cinder_csi.node", 4),
    )
    with pytest.raises(SystemExit) as exc:
        flags("--vmodule=foo")
    assert exc.value.code == 1
    assert "argument --vmodule" in capsys.readouterr().err


def test_log_file_receives_records_and_stderr_can_be_dropped(
    tmp_path: Path, restore_logging: None
) -> None:
    target = tmp_path / "osk8s.log"
    stream = io.StringIO()
    configure_logging(
        **flags(f"--log-file={target}", "--logtostderr=false").logging_kwargs(), stream=stream
    )
    get_logger("osk8s.test").info("to the file", password="hunter2")
    for handler in logging.getLogger().handlers:
        handler.flush()
    line = json.loads(target.read_text().splitlines()[-1])
    assert line["event"] == "to the file" and line["password"] != "hunter2"  # still redacted
    assert stream.getvalue() == ""


def test_vmodule_raises_one_logger_only(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(**flags("-v=2", "--vmodule=node=4").logging_kwargs(), stream=stream)
    get_logger("osk8s.cinder_csi.node").debug("node detail")
    get_logger("osk8s.cinder_csi.controller").debug("controller detail")
    get_logger("osk8s.cinder_csi.controller").info("controller info")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["node detail", "controller info"]


def test_vmodule_glob_matches_logger_names(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(**flags("--vmodule=cinder_*=5").logging_kwargs(), stream=stream)
    get_logger("osk8s.cinder_csi").debug("matched by its last part")
    get_logger("osk8s.keystone_auth").debug("not matched")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["matched by its last part"]


def test_a_service_binary_writes_its_log_file(tmp_path: Path) -> None:
    """End to end: k8s-keystone-auth's start-up error lands in --log-file, not on stderr."""
    target = tmp_path / "keystone.log"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "k8s-keystone-auth"),
            f"-log_file={target}",
            "--logtostderr=false",
            "-v",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 1
    assert result.stderr == ""
    line = json.loads(target.read_text().splitlines()[-1])
    assert line["event"] == "cannot start" and "--keystone-url" in line["error"]
