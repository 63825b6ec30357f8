"""clouds.yaml search directories when the process has no home directory (an image run as a
uid without a passwd entry and no HOME, as CPO's manifests run theirs: runAsUser 1001)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osk8s_core.config.loader import default_search_dirs


def test_home_from_the_environment() -> None:
    dirs = default_search_dirs({"HOME": "/home/op"})
    assert dirs[1:] == (Path("/home/op/.config/openstack"), Path("/etc/openstack"))


def test_no_home_at_all_skips_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert default_search_dirs({}) == (Path.cwd(), Path("/etc/openstack"))
