"""bazel/oci_image.py writes byte-identical layers and valid OCI layouts (no Bazel needed)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def oci(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("bazel/oci_image.py")


def _tree(root: Path, mtime: int) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "pkg" / "tool").write_text("#!/usr/bin/python3\n")
    (root / "pkg" / "tool").chmod(0o755)
    (root / "link").symlink_to("pkg/tool")
    for path in (root / "pkg", root / "pkg" / "__init__.py", root / "pkg" / "tool"):
        os.utime(path, (mtime, mtime))
    return root


def _layer(oci: ModuleType, src: Path, out: Path) -> bytes:
    oci.main(["layer", "--dir", str(src), "--pyc", "--out", str(out)])
    return out.read_bytes()


def test_layers_are_byte_identical_whatever_the_file_times(oci: ModuleType, tmp_path: Path) -> None:
    first = _layer(oci, _tree(tmp_path / "a", mtime=1_000_000), tmp_path / "a.tar.gz")
    second = _layer(oci, _tree(tmp_path / "b", mtime=2_000_000), tmp_path / "b.tar.gz")
    assert first == second
    assert first[4:8] == b"\0\0\0\0", "gzip header carries mtime 0"


def test_layer_members_are_normalised(oci: ModuleType, tmp_path: Path) -> None:
    data = _layer(oci, _tree(tmp_path / "t", mtime=5), tmp_path / "t.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        names = [m.name.rstrip("/") for m in tar.getmembers()]
        pyc = tar.extractfile(members["pkg/__pycache__/__init__.cpython-311.pyc"])
        assert pyc is not None
        header = pyc.read(16)
    assert names == sorted(names)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
    assert members["pkg/tool"].mode == 0o755
    assert members["pkg/__init__.py"].mode == 0o644
    assert members["link"].issym() and members["link"].linkname == "pkg/tool"
    # PEP 552 flags: 0b01 = hash-based, not checked: no timestamp inside the .pyc.
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_manifest_layers_and_image_layout(oci: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "main.py"
    src.write_text("print('hi')\n")
    manifest = tmp_path / "layer.manifest"
    manifest.write_text(
        f"file\t/app/runfiles/osk8s/main.py\t{src}\n"
        "empty\t/app/runfiles/osk8s/__init__.py\n"
        "symlink\t/app/tool.runfiles\trunfiles\n"
    )
    layer = tmp_path / "app.tar.gz"
    oci.main(["layer", "--manifest", str(manifest), "--out", str(layer)])

    def build(out: str) -> tuple[Path, bytes]:
        layout, tarball, digest = tmp_path / out, tmp_path / f"{out}.tar", tmp_path / f"{out}.d"
        oci.main([
            "image", "--layer", str(layer), "--layer-comment", "code",
            "--entrypoint", '["/usr/bin/python3", "/app/tool"]', "--env", "A=1",
            "--label", "org.opencontainers.image.title=tool", "--tag", "osk8s/tool:0.1.0",
            "--out-dir", str(layout), "--out-tar", str(tarball), "--digest-file", str(digest),
        ])  # fmt: skip
        return layout, tarball.read_bytes()

    layout, archive = build("one")
    _, archive_again = build("two")
    assert archive == archive_again

    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "osk8s/tool:0.1.0"
    blobs = layout / "blobs" / "sha256"
    for blob in blobs.iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    manifest_json = json.loads((blobs / desc["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest_json["config"]["digest"].split(":")[1]).read_text())
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/usr/bin/python3", "/app/tool"]
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer.read_bytes())).hexdigest()
    assert config["rootfs"]["diff_ids"] == [diff_id]
    assert (tmp_path / "one.d").read_text().strip() == desc["digest"]
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
