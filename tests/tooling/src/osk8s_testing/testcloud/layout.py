"""Where the test cloud keeps everything: one data directory with a fixed tree under it.

Only resolves paths (from ``--dir``, ``OSK8S_TESTCLOUD_DIR`` or ``<repo>/.testcloud``); it does
not create or read anything except to find the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = "OSK8S_TESTCLOUD_DIR"
DIR_NAME = ".testcloud"


def repo_root(start: Path | None = None) -> Path:
    """The repository holding this package (the directory with ``uv.lock``), else the cwd."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").is_file() and (parent / "tests").is_dir():
            return parent
    return Path.cwd()


def resolve_dir(explicit: str | None, environ: Mapping[str, str]) -> Path:
    """The data directory: the flag wins, then the environment, then ``<repo>/.testcloud``."""
    if explicit:
        return Path(explicit).resolve()
    if environ.get(ENV_DIR):
        return Path(environ[ENV_DIR]).resolve()
    return repo_root() / DIR_NAME


@dataclass(frozen=True)
class Layout:
    """The tree under the data directory."""

    root: Path

    @property
    def venv(self) -> Path:
        """The OpenStack venv (separate from the project's .venv)."""
        return self.root / "venv"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """Pid files, one per process."""
        return self.root / "run"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def cloud_conf(self) -> Path:
        return self.root / "cloud.conf"

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def state_file(self) -> Path:
        """Ids created during bring-up (projects, networks), for the outputs."""
        return self.root / "state.json"

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    def etc(self, service: str) -> Path:
        return self.root / "etc" / service

    def data(self, service: str) -> Path:
        return self.root / "data" / service

    def make_dirs(self) -> None:
        for path in (self.root, self.logs, self.run, self.root / "etc", self.root / "data"):
            path.mkdir(parents=True, exist_ok=True)

    def child_env(self) -> dict[str, str]:
        """Base environment for every process: our venv first on PATH, no OS_* leaking in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONUNBUFFERED"] = "1"
        env["OSK8S_TESTCLOUD_DIR"] = str(self.root)
        return env
