#!/usr/bin/env python3
"""Pins the Debian packages of the image base layer: writes bazel/debian.lock.

Each line is `package version sha256 url` for the current apt candidate (run `apt-get update`
first). Bazel's `debian_rootfs` rule downloads exactly these files and checks the hashes, so
the base layer only changes when this script is re-run and the lock is committed.
It does not install anything on the host.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "bazel" / "debian.lock"

# Python 3.11 (interpreter, stdlib) and the shared libraries it and the PyPI wheels (grpcio:
# libstdc++; cryptography: libssl via its own wheel) load. No shell, no dpkg, no perl.
PACKAGES = (
    "base-files",
    "gcc-12-base",
    "libbz2-1.0",
    "libc6",
    "libcom-err2",
    "libcrypt1",
    "libdb5.3",
    "libexpat1",
    "libffi8",
    "libgcc-s1",
    "libgdbm6",
    "libgssapi-krb5-2",
    "libk5crypto3",
    "libkeyutils1",
    "libkrb5-3",
    "libkrb5support0",
    "liblzma5",
    "libncursesw6",
    "libnsl2",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libstdc++6",
    "libtinfo6",
    "libtirpc-common",
    "libtirpc3",
    "libuuid1",
    "media-types",
    "netbase",
    "python3-minimal",
    "python3.11-minimal",
    "readline-common",
    "tzdata",
    "zlib1g",
)


def candidate(package: str) -> tuple[str, str, str]:
    """(version, sha256, url) of the apt candidate of one package."""
    out = subprocess.run(
        ["apt-get", "download", "--print-uris", package],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    url, filename, _size, checksum = out[0].strip("'"), out[1], out[2], out[3]
    version = filename.split("_")[1].replace("%3a", ":")
    algo, _, digest = checksum.partition(":")
    if algo != "SHA256":
        raise SystemExit(f"{package}: apt gave {algo}, need SHA256")
    return version, digest, url


def main() -> int:
    lines = ["# Debian packages of the image base layer (scripts/debian_lock.py writes this)."]
    for package in PACKAGES:
        version, digest, url = candidate(package)
        lines.append(f"{package} {version} {digest} {url}")
    LOCK.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
