"""Runs pytest inside a Bazel test: config from the root pyproject.toml, JUnit XML for Bazel.

Arguments are the test paths (relative to the workspace root, which is the runfiles cwd).
Some tests start our console scripts next to `sys.executable`, as in the uv venv; so pytest is
re-run from a throw-away bin/ holding a python3 symlink plus one script per [project.scripts]
entry of the workspace pyproject files in the runfiles. It never decides pass/fail itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
import tomllib
from pathlib import Path

_REEXEC = "OSK8S_PYTEST_BIN"
_PYPROJECTS = ("libs/*/pyproject.toml", "services/*/pyproject.toml", "tests/*/pyproject.toml")


def console_scripts(root: Path) -> dict[str, str]:
    """Script name -> "module:function" from the workspace members' pyproject files."""
    scripts: dict[str, str] = {}
    for pattern in _PYPROJECTS:
        for pyproject in sorted(root.glob(pattern)):
            project = tomllib.loads(pyproject.read_text()).get("project", {})
            scripts.update(project.get("scripts", {}))
    return scripts


def make_bin(directory: Path, scripts: dict[str, str], path: list[str]) -> Path:
    """A bin/ like a venv's: python3 (symlink to this interpreter) and the console scripts.

    `path` (the launcher's PYTHONPATH) is baked into each script, as a venv's scripts find
    their packages without any environment: tests may run them with a cleared env.
    """
    directory.mkdir(parents=True, exist_ok=True)
    python = directory / "python3"
    python.symlink_to(sys.executable)
    (directory / "python").symlink_to(sys.executable)
    for name, ref in scripts.items():
        module, function = ref.split(":")
        script = directory / name
        script.write_text(
            f"#!{python}\nimport sys\nsys.path[:0] = {path!r}\n"
            f"from {module} import {function}\nsys.exit({function}())\n"
        )
        script.chmod(0o755)
    return python


def run_pytest(argv: list[str]) -> int:
    import pytest  # noqa: PLC0415 - late: the first pass only prepares bin/ and re-execs

    args = ["-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider", "-q"]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append(f"--junitxml={xml}")
    return int(pytest.main(args + argv))


def main(argv: list[str]) -> int:
    if os.environ.get(_REEXEC):
        return run_pytest(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bin-", dir=os.environ.get("TEST_TMPDIR")))
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    python = make_bin(tmp / "bin", console_scripts(Path.cwd()), path)
    os.environ[_REEXEC] = str(python.parent)
    os.environ["PATH"] = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
