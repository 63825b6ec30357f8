#!/usr/bin/env python3
"""Exports the pinned PyPI locks that Bazel installs from, and checks they match uv.lock.

uv.lock is the single source of truth; `requirements.lock` (what the seven service images ship)
and `requirements-dev.lock` (everything `bazel test` needs) are plain `uv export`s of it, with
hashes. `--check` fails when either file drifts from what uv.lock exports now. It never edits
uv.lock or pyproject files.

    scripts/locks.py           # rewrite both exports
    scripts/locks.py --check   # exit 1 and show a diff when they drifted
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LockExport:
    """One exported lock file and the `uv export` arguments that produce it."""

    filename: str
    args: tuple[str, ...]


def service_packages(root: Path) -> list[str]:
    """Distribution names of the services (each image ships one of them)."""
    names = []
    for pyproject in sorted(root.glob("services/*/pyproject.toml")):
        names.append(tomllib.loads(pyproject.read_text())["project"]["name"])
    return names


def exports(root: Path) -> list[LockExport]:
    runtime = ["--no-dev"]
    for name in service_packages(root):
        runtime += ["--package", name]
    return [
        LockExport("requirements.lock", tuple(runtime)),
        LockExport("requirements-dev.lock", ("--all-packages",)),
    ]


def render(root: Path, export: LockExport) -> str:
    """What `uv export` makes of the committed uv.lock (never re-resolves: --frozen)."""
    cmd = [
        "uv", "export", "--frozen", "--quiet", "--no-emit-workspace", "--format",
        "requirements-txt", *export.args,
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)
    return result.stdout


def drifted(root: Path, lock_dir: Path) -> dict[str, str]:
    """File name -> unified diff, for every export that differs from uv.lock."""
    diffs: dict[str, str] = {}
    for export in exports(root):
        want = render(root, export)
        path = lock_dir / export.filename
        have = path.read_text() if path.exists() else ""
        if have != want:
            diff = difflib.unified_diff(
                have.splitlines(keepends=True),
                want.splitlines(keepends=True),
                f"{export.filename} (committed)",
                f"{export.filename} (from uv.lock)",
                n=1,
            )
            diffs[export.filename] = "".join(diff)
    return diffs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail on drift, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="workspace root (uv.lock)")
    parser.add_argument("--lock-dir", type=Path, help="where the exports live (default: root)")
    args = parser.parse_args(argv)
    lock_dir = args.lock_dir or args.root
    if args.check:
        diffs = drifted(args.root, lock_dir)
        for name, diff in diffs.items():
            print(f"{name} drifted from uv.lock; run scripts/locks.py\n{diff[:4000]}")
        return 1 if diffs else 0
    for export in exports(args.root):
        (lock_dir / export.filename).write_text(render(args.root, export))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
