#!/usr/bin/env python3
"""Builds, validates and checks the reproducibility of the seven service images.

    scripts/images.py build          # bazel build //services/<each>:image, print digests + sizes
    scripts/images.py validate [...]  # skopeo inspect, umoci unpack, --version as uid 65532
    scripts/images.py reproducible   # build, clean (--expunge), build again: digests must match

`validate` needs root (umoci unpack, unshare, chroot). Every command ends with a
`N passed, N failed` line. It never pushes anything anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NON_ROOT = "65532:65532"
# Imported inside each image to prove the wheels load against the Debian base (C extensions:
# grpc needs libstdc++, cryptography OpenSSL bindings, PyYAML/_ssl/_sqlite3 from the base).
IMPORT_CHECK = (
    "import sys; "
    "sys.path[:0] = ['/app/runfiles/pypi/site', '/app/runfiles/osk8s/libs/osk8s_core/src']; "
    "import grpc, openstack, kubernetes, yaml, google.protobuf, cryptography.fernet, structlog, "
    "prometheus_client, tenacity, requests, ssl, sqlite3, ctypes, osk8s_core; print('imports ok')"
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


def validate(image: Image, work: Path) -> list[str]:
    """Problems found in one image (empty: valid and starts as non-root)."""
    ref = f"{image.layout}:{image.tag()}"
    inspect = _run(["skopeo", "inspect", f"oci:{ref}"])
    if inspect.returncode != 0:
        return [f"skopeo inspect failed: {inspect.stderr.strip()}"]
    config = _run(["skopeo", "inspect", "--config", f"oci:{ref}"])
    run_config = json.loads(config.stdout)["config"]
    problems = []
    if run_config.get("User") != NON_ROOT:
        problems.append(f"User is {run_config.get('User')!r}, want {NON_ROOT}")
    bundle = work / image.service
    unpack = _run(["umoci", "unpack", "--image", ref, str(bundle)])
    if unpack.returncode != 0:
        return [*problems, f"umoci unpack failed: {unpack.stderr.strip()}"]
    rootfs = bundle / "rootfs"
    if (rootfs / "bin" / "sh").exists() or (rootfs / "usr" / "bin" / "sh").exists():
        problems.append("a shell is present in the image")
    entrypoint = run_config["Entrypoint"]
    launchers = [p for p in sorted((rootfs / "app").iterdir()) if p.is_file()]
    for launcher in launchers:
        cmd = [*entrypoint[:-1], f"/app/{launcher.name}", "--version"]
        # New net/pid/mount namespaces: no network, no host processes; uid 65532 in the rootfs.
        isolate = ["unshare", "--net", "--pid", "--fork", "--mount"]
        started = _run([*isolate, "chroot", "--userspec", NON_ROOT, str(rootfs), *cmd])
        if started.returncode != 0 or not started.stdout.startswith(f"{launcher.name} (osk8s)"):
            problems.append(f"{launcher.name} --version: {started.stdout}{started.stderr[-800:]}")
        else:
            print(f"  {image.service}: {started.stdout.strip()} (uid 65532, no network)")
    in_image = [*isolate, "chroot", "--userspec", NON_ROOT, str(rootfs)]
    imports = _run([*in_image, entrypoint[0], "-c", IMPORT_CHECK])
    if imports.returncode != 0 or imports.stdout.strip() != "imports ok":
        problems.append(f"third-party imports: {imports.stdout}{imports.stderr[-800:]}")
    return problems


def cmd_validate(images: list[Image]) -> int:
    if os.geteuid() != 0:
        raise SystemExit("validate needs root (umoci unpack, unshare, chroot): run it with sudo")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="osk8s-images-") as tmp:
        for image in images:
            problems = validate(image, Path(tmp))
            failed += 1 if problems else 0
            print(f"{'FAIL' if problems else 'PASS'} {image.service} {image.digest()}")
            for problem in problems:
                print(f"    {problem}")
            shutil.rmtree(Path(tmp) / image.service, ignore_errors=True)
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
