#!/usr/bin/env python3
"""Builds, validates and checks the reproducibility of the seven service images.

    scripts/images.py build          # bazel build //services/<each>:image, print digests + sizes
    scripts/images.py validate [...]  # skopeo inspect, umoci unpack, run inside each image
    scripts/images.py reproducible   # build, clean (--expunge), build again: digests must match

`validate` needs root (umoci unpack, unshare, chroot). It checks what upstream's manifests
expect of an image: root user, /bin/<name> runnable the three ways `args` start it (program
path, flag, nothing) as root and as other uids, `ls` for exec probes, /bin/sh only where
upstream has one, and the OS tools upstream bundles (cinder: csi-deps-check; manila: jq,
curl). It keeps each unpacked root filesystem in .images/<service>/ (stamped with the digest)
for tests/build/test_upstream_containers.py, so CI unpacks each image once.
Every command ends with a `N passed, N failed` line. It never pushes anything anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNPACKED = ROOT / ".images"
USER = "0:0"  # upstream's images run as root (distroless static / Alpine defaults)
# Non-root users manifests set: our charts (65532), upstream's OCCM manifests (1001, no passwd).
OTHER_USERS = ("65532:65532", "1001:1001")
# /bin/sh where upstream's image has one (cinder: dash from csi-deps.sh; Alpine: busybox).
SHELLS = {"cinder_csi": "dash", "manila_csi": "busybox", "barbican_kms": "busybox"}
# Tools with no version flag: run bare, they must print their usage (exit 1), i.e. load.
USAGE_CHECKS = {"cinder_csi": ("/sbin/resize2fs", "/sbin/e2label")}
# Upstream's tools/csi-deps-check.sh, line by line, plus the other tools csi-deps.sh copies.
TOOL_CHECKS = {
    "cinder_csi": (
        "/bin/sh -c true",
        "/bin/mount -V",
        "/bin/umount -V",
        "/sbin/blkid -V",
        "/sbin/blockdev -V",
        "/sbin/dumpe2fs -V",
        "/sbin/fsck --version",
        "/sbin/mke2fs -V",
        "/sbin/mkfs.ext4 -V",
        "/sbin/mkfs.xfs -V",
        "/usr/sbin/xfs_io -V",
        "/sbin/xfs_repair -V",
        "/usr/sbin/xfs_growfs -V",
        "/bin/btrfs --version",
        "/bin/udevadm --version",
        "/bin/findmnt -V",
        "/bin/dmesg -V",
        "/sbin/e2fsck -V",
        "/sbin/fsck.ext4 -V",
        "/sbin/mkfs.btrfs --version",
        "/bin/ls /lib/udev/rules.d /etc/mke2fs.conf",
    ),
    "manila_csi": ("/bin/sh -c true", "/usr/bin/jq --version", "/usr/bin/curl --version"),
    "barbican_kms": ("/bin/sh -c true",),
}
# Imported inside each image to prove the wheels load against the Debian base (C extensions:
# grpc needs libstdc++, cryptography OpenSSL bindings, PyYAML/_ssl/_sqlite3 from the base).
IMPORT_CHECK = (
    "import sys; "
    "sys.path[:0] = ['/app/runfiles/pypi/site', '/app/runfiles/osk8s/libs/osk8s_core/src']; "
    "import grpc, openstack, kubernetes, yaml, google.protobuf, cryptography.fernet, structlog, "
    "prometheus_client, tenacity, requests, ssl, sqlite3, ctypes, osk8s_core; "
    # The CA bundle every upstream image carries, found where OpenSSL looks by default.
    "assert ssl.create_default_context().cert_store_stats()['x509_ca'] > 100, 'no CA bundle'; "
    "print('imports ok')"
)


@dataclass(frozen=True)
class Image:
    """One service image as Bazel writes it under bazel-bin/services/<service>/."""

    service: str

    @property
    def target(self) -> str:
        return f"//services/{self.service}:image"

    @property
    def out(self) -> Path:
        return ROOT / "bazel-bin" / "services" / self.service

    @property
    def layout(self) -> Path:
        return self.out / "image.oci"

    @property
    def tarball(self) -> Path:
        return self.out / "image.tar"

    def digest(self) -> str:
        return (self.out / "image.digest").read_text().strip()

    def tag(self) -> str:
        index = json.loads((self.layout / "index.json").read_text())
        return str(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])


def all_images() -> list[Image]:
    return [Image(p.parent.name) for p in sorted(ROOT.glob("services/*/BUILD.bazel"))]


def selected(names: list[str]) -> list[Image]:
    images = all_images()
    if not names:
        return images
    unknown = set(names) - {i.service for i in images}
    if unknown:
        raise SystemExit(f"unknown services: {sorted(unknown)}")
    return [i for i in images if i.service in names]


def bazel(*args: str) -> None:
    subprocess.run(["bazel", *args], cwd=ROOT, check=True)


def build(images: list[Image]) -> dict[str, str]:
    bazel("build", "--config=ci", *(i.target for i in images))
    return {i.service: i.digest() for i in images}


def layer_sizes(image: Image) -> list[int]:
    index = json.loads((image.layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((image.layout / "blobs" / "sha256" / digest).read_text())
    return [int(layer["size"]) for layer in manifest["layers"]]


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def cmd_build(images: list[Image]) -> int:
    start = time.monotonic()
    digests = build(images)
    print(f"built {len(images)} images in {time.monotonic() - start:.0f} s")
    for image in images:
        sizes = layer_sizes(image)
        parts = " + ".join(_mb(s) for s in sizes)
        print(f"{image.service:16} {digests[image.service]}  {_mb(sum(sizes))} ({parts})")
    print(f"{len(images)} passed, 0 failed")
    return 0


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def _stamp(bundle: Path) -> str:
    stamp = bundle / "digest"
    return stamp.read_text().strip() if stamp.exists() else ""


def unpack(image: Image, ref: str) -> tuple[Path, str]:
    """The image's root filesystem in .images/<service>/rootfs (reused if the digest matches)."""
    bundle = UNPACKED / image.service
    if _stamp(bundle) == image.digest() and (bundle / "rootfs").is_dir():
        return bundle / "rootfs", ""
    shutil.rmtree(bundle, ignore_errors=True)
    UNPACKED.mkdir(exist_ok=True)
    result = _run(["umoci", "unpack", "--image", ref, str(bundle)])
    if result.returncode != 0:
        return bundle / "rootfs", f"umoci unpack failed: {result.stderr.strip()}"
    (bundle / "digest").write_text(image.digest() + "\n")
    return bundle / "rootfs", ""


# New net/pid/mount namespaces: no network, no host processes.
ISOLATE = ["unshare", "--net", "--pid", "--fork", "--mount"]


def in_image(rootfs: Path, user: str, cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return _run([*ISOLATE, "chroot", "--userspec", user, str(rootfs), *cmd])


def _check_binaries(image: Image, rootfs: Path, entrypoint: list[str]) -> list[str]:
    problems = []
    names = [p.name for p in sorted((rootfs / "app").iterdir()) if p.is_file()]
    names = [n for n in names if n != "entrypoint.py"]
    main = entrypoint[-1].rsplit("/", 1)[-1]
    if main not in names:
        problems.append(f"entrypoint runs {entrypoint[-1]}, not one of {names}")
    for name in names:
        forms = [[f"/bin/{name}", "--version"]]
        if name == main:  # how upstream's manifests start the image (args after Entrypoint)
            forms += [
                [*entrypoint, f"/bin/{name}", "--version"],
                [*entrypoint, f"./bin/{name}", "--version"],
                [*entrypoint, "--version"],
            ]
        # Every form as root (the image's user); the plain path also as the non-root users.
        runs = [(USER, cmd) for cmd in forms] + [(user, forms[0]) for user in OTHER_USERS]
        for user, cmd in runs:
            started = in_image(rootfs, user, cmd)
            if started.returncode != 0 or not started.stdout.startswith(f"{name} (osk8s)"):
                problems.append(f"{cmd} as {user}: {started.stdout}{started.stderr[-800:]}")
        print(f"  {image.service}: /bin/{name} runs (args forms, uids 0/65532/1001, no network)")
    missing = in_image(rootfs, USER, [*entrypoint, "/nonexistent"])
    if missing.returncode != 127 or len(missing.stderr.strip().splitlines()) != 1:
        problems.append(f"unknown program: exit {missing.returncode}, {missing.stderr!r}")
    return problems


def _check_os(image: Image, rootfs: Path) -> list[str]:
    problems = []
    shell = rootfs / "bin" / "sh"
    want = SHELLS.get(image.service)
    have = os.readlink(shell) if shell.is_symlink() else ("file" if shell.exists() else None)
    if have != want:
        problems.append(f"/bin/sh is {have!r}, upstream's image has {want!r}")
    for line in ("/bin/ls /", *TOOL_CHECKS.get(image.service, ())):
        ran = in_image(rootfs, USER, line.split())
        if ran.returncode != 0:
            problems.append(f"{line}: exit {ran.returncode} {ran.stdout}{ran.stderr[-400:]}")
    for tool in USAGE_CHECKS.get(image.service, ()):
        ran = in_image(rootfs, USER, [tool])
        if ran.returncode != 1 or "Usage" not in ran.stdout + ran.stderr:
            problems.append(f"{tool}: exit {ran.returncode} {ran.stdout}{ran.stderr[-400:]}")
    checked = 1 + len(TOOL_CHECKS.get(image.service, ())) + len(USAGE_CHECKS.get(image.service, ()))
    print(f"  {image.service}: {checked} OS tool checks, /bin/sh {want or 'absent'}")
    return problems


def validate(image: Image) -> list[str]:
    """Problems found in one image (empty: runs as upstream's manifests start it)."""
    ref = f"{image.layout}:{image.tag()}"
    inspect = _run(["skopeo", "inspect", f"oci:{ref}"])
    if inspect.returncode != 0:
        return [f"skopeo inspect failed: {inspect.stderr.strip()}"]
    config = _run(["skopeo", "inspect", "--config", f"oci:{ref}"])
    run_config = json.loads(config.stdout)["config"]
    problems = []
    if run_config.get("User") != USER:
        problems.append(f"User is {run_config.get('User')!r}, want {USER} (upstream: root)")
    if run_config.get("WorkingDir") != "/":
        problems.append(f"WorkingDir is {run_config.get('WorkingDir')!r}: ./bin/<name> needs /")
    rootfs, failed = unpack(image, ref)
    if failed:
        return [*problems, failed]
    entrypoint = run_config["Entrypoint"]
    problems += _check_binaries(image, rootfs, entrypoint)
    problems += _check_os(image, rootfs)
    imports = in_image(rootfs, OTHER_USERS[0], ["/usr/bin/python3", "-c", IMPORT_CHECK])
    if imports.returncode != 0 or imports.stdout.strip() != "imports ok":
        problems.append(f"third-party imports: {imports.stdout}{imports.stderr[-800:]}")
    return problems


def cmd_validate(images: list[Image]) -> int:
    if os.geteuid() != 0:
        raise SystemExit("validate needs root (umoci unpack, unshare, chroot): run it with sudo")
    failed = 0
    start = time.monotonic()
    for image in images:
        problems = validate(image)
        failed += 1 if problems else 0
        print(f"{'FAIL' if problems else 'PASS'} {image.service} {image.digest()}")
        for problem in problems:
            print(f"    {problem}")
    print(f"validated in {time.monotonic() - start:.0f} s; root filesystems kept in {UNPACKED}")
    print(f"{len(images) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_reproducible(images: list[Image], expunge: bool) -> int:
    first = build(images)
    bazel("clean", "--expunge" if expunge else "--async")
    start = time.monotonic()
    second = build(images)
    print(f"rebuilt from clean in {time.monotonic() - start:.0f} s")
    failed = [s for s in first if first[s] != second[s]]
    for service in first:
        same = "PASS" if service not in failed else "FAIL"
        print(f"{same} {service} {first[service]} {second[service]}")
    print(f"{len(first) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("build", "validate", "reproducible"):
        cmd = sub.add_parser(name)
        cmd.add_argument("services", nargs="*", help="service folders (default: all seven)")
    sub.choices["reproducible"].add_argument(
        "--quick", action="store_true", help="plain `bazel clean`: keeps fetched repositories"
    )
    args = parser.parse_args(argv)
    images = selected(args.services)
    if args.cmd == "build":
        return cmd_build(images)
    if args.cmd == "validate":
        return cmd_validate(images)
    return cmd_reproducible(images, expunge=not args.quick)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
