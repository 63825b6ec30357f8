#!/usr/bin/env python3
"""Pins the Debian packages of the image OS layers: writes bazel/debian*.lock.

Each line is `package version sha256 url` for the current apt candidate (run `apt-get update`
first). Bazel's `debian_rootfs` rule downloads exactly these files and checks the hashes, so
a layer only changes when this script is re-run and the lock is committed.
It does not install anything on the host.

    scripts/debian_lock.py            # re-pin every lock
    scripts/debian_lock.py --check    # every package of every set is pinned, nothing else
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BAZEL = Path(__file__).resolve().parent.parent / "bazel"

# Python 3.11 (interpreter, stdlib) and the shared libraries it and the PyPI wheels (grpcio:
# libstdc++; cryptography: libssl via its own wheel) load, and busybox-static: one static
# 2 MB binary that gives every image the `ls` upstream's probes exec (the KMS DaemonSet's
# `ls $(KMS_ENDPOINT)`) with no extra shared library. No dpkg, no perl.
# ca-certificates: the Mozilla CA set as one bundle (/etc/ssl/certs/ca-certificates.crt, made
# by debian_rootfs.py as update-ca-certificates would), like the certs every upstream image has.
BASE = (
    "base-files",
    "busybox-static",
    "ca-certificates",
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

# cinder-csi-plugin's extra layer: upstream's csi-deps.sh tool set (dash as /bin/sh, mount,
# util-linux, e2fsprogs, xfsprogs, btrfs-progs, udevadm + rules) and the shared libraries those
# tools load that the base layer lacks (found with readelf over the unpacked packages).
CINDER_TOOLS = (
    "btrfs-progs",
    "dash",
    "e2fsprogs",
    "libacl1",
    "libblkid1",
    "libbsd0",
    "libcap2",
    "libdevmapper1.02.1",
    "libedit2",
    "libext2fs2",
    "libinih1",
    "libkmod2",
    "liblzo2-2",
    "libmd0",
    "libmount1",
    "libpcre2-8-0",
    "libselinux1",
    "libsmartcols1",
    "libudev1",
    "liburcu8",
    "libzstd1",
    "mount",
    "udev",
    "util-linux",
    "xfsprogs",
)

# manila-csi-plugin's extra layer: upstream's image is Alpine + `apk add jq curl`; /bin/sh is
# busybox from the base layer (a link the image adds), jq and curl come from here.
MANILA_TOOLS = (
    "curl",
    "jq",
    "libbrotli1",
    "libcurl4",
    "libgmp10",
    "libgnutls30",
    "libhogweed6",
    "libidn2-0",
    "libjq1",
    "libldap-2.5-0",
    "libnettle8",
    "libnghttp2-14",
    "libonig5",
    "libp11-kit0",
    "libpsl5",
    "librtmp1",
    "libsasl2-2",
    "libssh2-1",
    "libtasn1-6",
    "libunistring2",
    "libzstd1",
)

LOCKS = {
    "debian.lock": ("image base layer", BASE),
    "debian-cinder-tools.lock": ("cinder-csi-plugin OS tools layer", CINDER_TOOLS),
    "debian-manila-tools.lock": ("manila-csi-plugin jq/curl layer", MANILA_TOOLS),
}


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


def pinned(lock: Path) -> list[str]:
    lines = lock.read_text().splitlines() if lock.exists() else []
    return [line.split(" ")[0] for line in lines if line.strip() and not line.startswith("#")]


def check() -> int:
    """Problems: a lock whose packages differ from its set (sets edited without re-pinning)."""
    failed = 0
    for name, (_, packages) in LOCKS.items():
        got = pinned(BAZEL / name)
        ok = got == list(packages)
        failed += 0 if ok else 1
        print(f"{'PASS' if ok else 'FAIL'} {name}: {len(got)} pinned, {len(packages)} wanted")
    print(f"{len(LOCKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        return check()
    for name, (what, packages) in LOCKS.items():
        lines = [f"# Debian packages of the {what} (scripts/debian_lock.py writes this)."]
        for package in packages:
            version, digest, url = candidate(package)
            lines.append(f"{package} {version} {digest} {url}")
        (BAZEL / name).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
