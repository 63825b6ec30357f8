"""Writes reproducible OCI image layers and image layouts with the standard library only.

`layer`: a tar.gz from a directory or a Bazel manifest (dest, kind, source), with mtime 0,
uid/gid 0, sorted entries, gzip mtime 0 and `.pyc` files compiled as unchecked-hash, so the
same inputs always give the same bytes. `image`: an OCI image layout (and an oci-archive .tar)
from such layers plus the run config. It never talks to a registry or a container engine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import os
import py_compile
import shutil
import stat
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

LAYER_MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA = "application/vnd.oci.image.manifest.v1+json"
_GZIP_LEVEL = 6


@dataclass(frozen=True)
class Entry:
    """One member of a layer: a file (from `source`), a directory or a symlink (`target`)."""

    path: str  # absolute path in the image, without the leading '/'
    kind: str  # "file" | "dir" | "symlink"
    mode: int
    source: Path | None = None
    target: str = ""
    data: bytes | None = None  # file content given inline (pyc, empty files)


def _file_mode(path: Path) -> int:
    return 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644


def entries_from_dir(root: Path) -> list[Entry]:
    """Every file, directory and symlink under root, with normalised permissions."""
    out: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out.append(Entry(rel, "symlink", 0o777, target=os.readlink(path)))
            elif path.is_dir():
                mode = stat.S_IMODE(path.stat().st_mode)
                out.append(Entry(rel, "dir", 0o1777 if mode & stat.S_ISVTX else 0o755))
            elif path.is_file():
                out.append(Entry(rel, "file", _file_mode(path), source=path))
    return out


def entries_from_manifest(manifest: Path) -> list[Entry]:
    """Lines `file<TAB>dest<TAB>src`, `empty<TAB>dest`, `symlink<TAB>dest<TAB>target`."""
    out: list[Entry] = []
    for line in manifest.read_text().splitlines():
        kind, dest, *rest = line.split("\t")
        dest = dest.strip("/")
        if kind == "file":
            src = Path(rest[0])
            out.append(Entry(dest, "file", _file_mode(src), source=src))
        elif kind == "empty":
            out.append(Entry(dest, "file", 0o644, data=b""))
        elif kind == "symlink":
            out.append(Entry(dest, "symlink", 0o777, target=rest[0]))
        else:
            raise SystemExit(f"unknown manifest kind {kind!r} in {manifest}")
    return out


def with_pyc(entries: list[Entry]) -> list[Entry]:
    """Adds `__pycache__/*.pyc` (unchecked-hash: no mtime inside) for every .py file."""
    out = list(entries)
    with tempfile.TemporaryDirectory() as tmp:
        cfile = Path(tmp) / "out.pyc"
        for entry in entries:
            if entry.kind != "file" or entry.source is None or not entry.path.endswith(".py"):
                continue
            pyc_path = importlib.util.cache_from_source("/" + entry.path).lstrip("/")
            try:
                py_compile.compile(
                    str(entry.source),
                    cfile=str(cfile),
                    dfile="/" + entry.path,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                continue  # e.g. Python-2-only test files shipped inside some wheels
            out.append(Entry(pyc_path, "file", 0o644, data=cfile.read_bytes()))
    return out


def with_parents(entries: list[Entry]) -> list[Entry]:
    """Adds missing parent directories so every layer is self-contained."""
    have = {e.path for e in entries}
    out = list(entries)
    for entry in entries:
        parent = os.path.dirname(entry.path)
        while parent and parent not in have:
            out.append(Entry(parent, "dir", 0o755))
            have.add(parent)
            parent = os.path.dirname(parent)
    return out


def write_layer(entries: list[Entry], out: Path) -> None:
    """A deterministic tar.gz: sorted entries, no timestamps or owners."""
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.path, entry)
    with open(out, "wb") as raw:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=_GZIP_LEVEL)
        with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(unique):
                _add(tar, unique[path])


def _add(tar: tarfile.TarFile, entry: Entry) -> None:
    info = tarfile.TarInfo(entry.path + ("/" if entry.kind == "dir" else ""))
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    info.mode = entry.mode
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif entry.kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, entry.target
        tar.addfile(info)
    else:
        data = entry.data if entry.data is not None else Path(str(entry.source)).read_bytes()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def cmd_layer(args: argparse.Namespace) -> None:
    entries = entries_from_dir(args.dir) if args.dir else []
    for manifest in args.manifest:
        entries += entries_from_manifest(manifest)
    if args.pyc:
        entries = with_pyc(entries)
    write_layer(with_parents(entries), args.out)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _put_blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = _sha256(data)
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_image(args: argparse.Namespace) -> str:
    """Writes the OCI layout; returns the manifest digest."""
    layout: Path = args.out_dir
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs" / "sha256").mkdir(parents=True)
    layers, diff_ids, history = [], [], []
    for layer_path, comment in zip(args.layer, args.layer_comment, strict=True):
        data = Path(layer_path).read_bytes()
        layers.append({"mediaType": LAYER_MEDIA, **_put_blob(layout, data)})
        diff_ids.append(_sha256(gzip.decompress(data)))
        history.append({"created": "1970-01-01T00:00:00Z", "created_by": comment})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": args.user,
            "Entrypoint": json.loads(args.entrypoint),
            "Env": args.env,
            "WorkingDir": "/",
            "Labels": dict(kv.split("=", 1) for kv in args.label),
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA,
        "config": {"mediaType": CONFIG_MEDIA, **_put_blob(layout, _canonical(config))},
        "layers": layers,
    }
    manifest_desc = _put_blob(layout, _canonical(manifest))
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA,
                **manifest_desc,
                "annotations": {"org.opencontainers.image.ref.name": args.tag},
            }
        ],
    }
    (layout / "index.json").write_bytes(_canonical(index))
    (layout / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    return str(manifest_desc["digest"])


def write_archive(layout: Path, out: Path) -> None:
    """An oci-archive: the layout as an uncompressed, deterministic tar."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in layout.rglob("*")):
            entry_kind = "dir" if path.is_dir() else "file"
            mode = 0o755 if entry_kind == "dir" else 0o644
            rel = path.relative_to(layout).as_posix()
            _add(tar, Entry(rel, entry_kind, mode, source=path if entry_kind == "file" else None))


def cmd_image(args: argparse.Namespace) -> None:
    digest = write_image(args)
    if args.out_tar:
        write_archive(args.out_dir, args.out_tar)
    if args.digest_file:
        args.digest_file.write_text(digest + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    layer = sub.add_parser("layer")
    layer.add_argument("--dir", type=Path, help="pack a whole directory tree")
    layer.add_argument("--manifest", type=Path, action="append", default=[])
    layer.add_argument("--pyc", action="store_true", help="add unchecked-hash .pyc files")
    layer.add_argument("--out", type=Path, required=True)
    image = sub.add_parser("image")
    image.add_argument("--layer", action="append", default=[], help="tar.gz, base first")
    image.add_argument("--layer-comment", action="append", default=[])
    image.add_argument("--entrypoint", required=True, help="JSON list")
    image.add_argument("--env", action="append", default=[])
    image.add_argument("--label", action="append", default=[])
    image.add_argument("--user", default="65532:65532")
    image.add_argument("--tag", required=True)
    image.add_argument("--out-dir", type=Path, required=True)
    image.add_argument("--out-tar", type=Path)
    image.add_argument("--digest-file", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "layer":
        cmd_layer(args)
    else:
        cmd_image(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
