"""Unpacks pinned Debian packages into one image layer (run by `debian_rootfs`).

`dpkg-deb -x` only (no maintainer scripts), then: docs and man pages dropped. The base layer
(`--base`) also gets users (root, nonroot 65532), /tmp, `ls` (a link to busybox), the CA
bundle and the stdlib
compiled to unchecked-hash .pyc, so it is byte-identical on every build. An extra layer
(`--link`, `--drop`) holds only its own packages and sits on top of the base layer.
It must not touch the host's own packages.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

# Not needed at run time; dropping them keeps the base layer small.
_DROP = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
    "usr/share/bug",
    "usr/share/doc-base",
    "usr/share/gcc",
    "usr/share/gdb",
    "etc/ld.so.cache",
    "var/cache/ldconfig/aux-cache",
    "usr/share/bash-completion",
    "usr/share/zsh",
    "usr/share/initramfs-tools",
    "usr/share/pkgconfig",
    "usr/share/lintian",
)

# Busybox applets the base layer links (busybox-static): the commands upstream's probes exec.
BASE_LINKS = {"bin/ls": "busybox"}

PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n"


def unpack(debs: list[Path], rootfs: Path) -> None:
    for deb in sorted(debs):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(rootfs)], check=True)


def drop(rootfs: Path, paths: list[str]) -> None:
    for rel in paths:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def link(rootfs: Path, links: dict[str, str]) -> None:
    for rel, target in sorted(links.items()):
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target)


# Where OpenSSL (Python's ssl, curl) looks by default on Debian; the `openssl` package would
# make these links, but only its library is in the image.
SSL_LINKS = {
    "usr/lib/ssl/cert.pem": "/etc/ssl/certs/ca-certificates.crt",
    "usr/lib/ssl/certs": "/etc/ssl/certs",
}


def ca_bundle(rootfs: Path) -> None:
    """/etc/ssl/certs/ca-certificates.crt from the Mozilla set, as update-ca-certificates does
    (sorted, so the layer is byte-identical on every build)."""
    certs = sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt"))
    if not certs:
        raise SystemExit("ca-certificates: no certificates under /usr/share/ca-certificates")
    bundle = "".join(c.read_text().rstrip("\n") + "\n" for c in certs)
    (rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/ssl/certs/ca-certificates.crt").write_text(bundle)
    drop(rootfs, ["usr/sbin/update-ca-certificates", "etc/ca-certificates"])
    link(rootfs, SSL_LINKS)


def tidy_base(rootfs: Path) -> None:
    link(rootfs, BASE_LINKS)
    ca_bundle(rootfs)
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    for rel in ("tmp", "home/nonroot", "root"):
        (rootfs / rel).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debs", type=Path, required=True)
    parser.add_argument("--rootfs", type=Path, required=True)
    parser.add_argument("--oci-tool", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", action="store_true", help="the base layer: users, /tmp, ls")
    parser.add_argument("--link", action="append", default=[], help="PATH=TARGET symlink")
    parser.add_argument("--drop", action="append", default=[], help="path to leave out")
    args = parser.parse_args(argv)
    shutil.rmtree(args.rootfs, ignore_errors=True)
    args.rootfs.mkdir(parents=True)
    unpack(list(args.debs.glob("*.deb")), args.rootfs)
    drop(args.rootfs, [*_DROP, *args.drop])
    if args.base:
        tidy_base(args.rootfs)
    link(args.rootfs, dict(item.split("=", 1) for item in args.link))
    layer = [sys.executable, str(args.oci_tool), "layer", "--dir", str(args.rootfs), "--pyc"]
    subprocess.run([*layer, "--out", str(args.out)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
