"""Smoke test of packaged binaries: each must answer `--version` with its own program name.

Runs the py_binary launchers exactly as Bazel built them (the same files the images carry).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    failures = 0
    for launcher in argv:
        prog = Path(launcher).name
        result = subprocess.run(
            [sys.executable, launcher, "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        ok = result.returncode == 0 and result.stdout.startswith(f"{prog} (osk8s) ")
        print(f"{'PASS' if ok else 'FAIL'} {prog}: {result.stdout.strip()} {result.stderr[-500:]}")
        failures += 0 if ok else 1
    print(f"{len(argv) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
