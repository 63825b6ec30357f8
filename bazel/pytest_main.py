"""Runs pytest inside a Bazel test: config from the root pyproject.toml, JUnit XML for Bazel.

Arguments are the test paths (relative to the workspace root, which is the runfiles cwd).
It prints pytest's own closing line; it must not decide pass/fail itself, except that
"no tests collected" (exit 5) fails the target so an empty suite is noticed.
"""

from __future__ import annotations

import os
import sys

import pytest


def main(argv: list[str]) -> int:
    args = ["-c", "pyproject.toml", "--rootdir", ".", "-p", "no:cacheprovider", "-q"]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append(f"--junitxml={xml}")
    return int(pytest.main(args + argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
