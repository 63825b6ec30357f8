"""The PyPI locks Bazel installs from match uv.lock; the Debian lock is well-formed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv not on PATH")


@pytest.fixture(scope="module")
def locks(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("scripts/locks.py")


@pytest.fixture(scope="module")
def pypi(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("bazel/pypi_install.py")


@needs_uv
def test_committed_exports_match_uv_lock(locks: ModuleType) -> None:
    assert locks.drifted(ROOT, ROOT) == {}, "run scripts/locks.py"


@needs_uv
def test_drift_is_detected(locks: ModuleType, tmp_path: Path) -> None:
    for export in locks.exports(ROOT):  # fresh exports: independent of the committed files
        (tmp_path / export.filename).write_text(locks.render(ROOT, export))
    assert locks.drifted(ROOT, tmp_path) == {}
    lock = tmp_path / "requirements.lock"
    text = lock.read_text()
    pin = re.search(r"^pyyaml==(\S+)", text, re.M)
    assert pin, "pyyaml is a runtime dependency"
    lock.write_text(text.replace(f"pyyaml=={pin.group(1)}", "pyyaml==0.0.1"))
    diffs = locks.drifted(ROOT, tmp_path)
    assert list(diffs) == ["requirements.lock"]
    assert "-pyyaml==0.0.1" in diffs["requirements.lock"]


def test_runtime_lock_is_hashed_and_inside_dev_lock(pypi: ModuleType) -> None:
    runtime = pypi.read_lock(ROOT / "requirements.lock")
    dev = pypi.read_lock(ROOT / "requirements-dev.lock")
    assert {"openstacksdk", "kubernetes", "grpcio", "protobuf"} <= runtime.keys()
    assert "pytest" not in runtime and "pytest" in dev
    assert {n: dev.get(n) for n in runtime} == runtime
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[a-z0-9])", text)
    assert all("--hash=sha256:" in b for b in blocks if "==" in b.split("\n")[0])


def test_filtered_lock_drops_whole_requirement_blocks(pypi: ModuleType, tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n"
        "mypy==1.0 \\\n    --hash=sha256:aa\n    # via dev\n"
        "pyyaml==6.0 ; python_version >= '3' \\\n    --hash=sha256:bb\n"
    )
    out = pypi.filtered_lock(lock, {"mypy"})
    assert "mypy" not in out and "sha256:aa" not in out
    assert "pyyaml==6.0" in out and "sha256:bb" in out
    assert pypi.read_lock(lock) == {"mypy": "1.0", "pyyaml": "6.0"}


def test_debian_lock_pins_python_with_hashes() -> None:
    rows = [
        line.split(" ")
        for line in (ROOT / "bazel" / "debian.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(len(row) == 4 for row in rows)
    packages = {row[0]: row for row in rows}
    assert {"python3.11-minimal", "libpython3.11-stdlib", "libc6", "libssl3"} <= packages.keys()
    assert "bash" not in packages and "dash" not in packages, "images carry no shell"
    for name, version, sha256, url in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", sha256), name
        assert url.endswith(".deb") and url.startswith("http"), name
        assert version, name


def test_every_debian_lock_pins_exactly_its_package_set(
    load_script: Callable[[str], ModuleType],
) -> None:
    debian = load_script("scripts/debian_lock.py")
    assert set(debian.LOCKS) == {p.name for p in (ROOT / "bazel").glob("debian*.lock")}
    for name, (_, packages) in debian.LOCKS.items():
        assert debian.pinned(ROOT / "bazel" / name) == list(packages), f"re-run {name}"
    # The tool layers only add what the base lacks (no package pinned twice at two versions).
    base = set(debian.BASE)
    assert not base & set(debian.CINDER_TOOLS) and not base & set(debian.MANILA_TOOLS)
    assert "busybox-static" in base, "ls for upstream's exec probes"
