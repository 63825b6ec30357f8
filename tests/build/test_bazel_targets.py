"""Bazel's service targets start exactly the console scripts uv installs (no drift between them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_BINARY = re.compile(r'\("([a-z0-9-]+)",\s*"([a-z0-9_.]+:[a-z_]+)"\)')


def _services() -> list[Path]:
    return sorted(p.parent for p in ROOT.glob("services/*/pyproject.toml"))


def test_every_service_has_a_bazel_package() -> None:
    assert _services(), "no services found"
    for service in _services():
        assert (service / "BUILD.bazel").exists(), service.name


def test_bazel_binaries_match_project_scripts() -> None:
    for service in _services():
        scripts = tomllib.loads((service / "pyproject.toml").read_text())["project"]["scripts"]
        binaries = dict(_BINARY.findall((service / "BUILD.bazel").read_text()))
        assert binaries == scripts, service.name


def test_images_filegroup_lists_every_service() -> None:
    root_build = (ROOT / "BUILD.bazel").read_text()
    for service in _services():
        assert f'"//services/{service.name}:image"' in root_build


def test_bazel_never_downloads_its_own_rules() -> None:
    workspace = (ROOT / "WORKSPACE").read_text()
    for repo in ("rules_cc", "rules_java", "remote_coverage_tools"):
        assert f'name = "{repo}",\n    path = "third_party/{repo}"' in workspace
    assert "http_archive" not in workspace
