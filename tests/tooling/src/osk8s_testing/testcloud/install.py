"""Install what the test cloud needs: Debian packages (apt) and the pinned OpenStack venv (uv).

Idempotent: packages already installed and a venv built from the same requirements (by hash)
are left alone. It also copies ``plugins/`` into the venv as the ``osk8s_testcloud_plugins``
package with its entry points (ML2 and Octavia load drivers only by entry point name).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from osk8s_testing.testcloud.layout import Layout, repo_root
from osk8s_testing.testcloud.steps import TestcloudError, run

PLUGIN_PACKAGE = "osk8s_testcloud_plugins"
PLUGINS_DIR = Path(__file__).with_name("plugins")
REQUIREMENTS = Path(__file__).resolve().parents[3] / "testcloud-requirements.txt"
PYTHON_VERSION = "3.11"

ENTRY_POINTS = f"""\
[neutron.ml2.mechanism_drivers]
osk8s_bind = {PLUGIN_PACKAGE}.ml2_bind:BindAllMechanismDriver

[neutron.service_plugins]
osk8s_fip_status = {PLUGIN_PACKAGE}.neutron_l3_status:FloatingIPStatusPlugin

[octavia.compute.drivers]
osk8s_compute = {PLUGIN_PACKAGE}.octavia_compute:NeutronPortsNoopComputeDriver
"""

# Debian's rabbitmq/mariadb postinst scripts would start system daemons on our ports; a
# policy-rc.d answering 101 ("action forbidden") keeps them from starting during the install.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def missing_packages(packages: Sequence[str]) -> list[str]:
    missing = []
    for pkg in packages:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def _has_candidate(pkg: str) -> bool:
    out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True, check=False)
    return "Candidate:" in out.stdout and "Candidate: (none)" not in out.stdout


def ensure_packages(packages: Sequence[str], *, log: Path) -> list[str]:
    """apt-get install the missing ones (apt-get update first if one is unknown)."""
    missing = missing_packages(packages)
    if not missing:
        return []
    if shutil.which("apt-get") is None:
        raise TestcloudError(f"need Debian packages {missing} but apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not all(_has_candidate(p) for p in missing):
        run(["apt-get", "update"], log=log, env=env)
    own_policy = not POLICY_RC_D.exists()
    if own_policy:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], log=log, env=env)
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    return missing


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find_uv() -> str:
    """uv from PATH, else the one running us (``uv run`` sets $UV), else the Makefile's copy."""
    candidates = [shutil.which("uv"), os.environ.get("UV"), str(repo_root() / ".tools/bin/uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise TestcloudError("uv not found (PATH, $UV or .tools/bin/uv); it builds the OpenStack venv")


def ensure_venv(layout: Layout, *, requirements: Path = REQUIREMENTS, log: Path) -> bool:
    """Build the OpenStack venv from the pinned requirements; False if it was already current."""
    stamp = layout.venv / ".osk8s-requirements.sha256"
    want = _digest(requirements)
    if layout.bin("python").exists() and stamp.exists() and stamp.read_text().strip() == want:
        return False
    uv = _find_uv()
    run([uv, "venv", "--allow-existing", "--python", PYTHON_VERSION, str(layout.venv)], log=log)
    run(
        [uv, "pip", "install", "--python", str(layout.bin("python")), "-r", str(requirements)],
        log=log,
    )
    stamp.write_text(want + "\n")
    return True


def site_packages(layout: Layout) -> Path:
    found = sorted((layout.venv / "lib").glob("python3*/site-packages"))
    if not found:
        raise TestcloudError(f"no site-packages under {layout.venv}")
    return found[0]


def sync_plugins(layout: Layout) -> None:
    """Copy plugins/*.py into the venv and register their entry points (every `up`)."""
    site = site_packages(layout)
    target = site / PLUGIN_PACKAGE
    target.mkdir(exist_ok=True)
    for source in PLUGINS_DIR.glob("*.py"):
        dest = target / source.name
        text = source.read_text()
        if not dest.exists() or dest.read_text() != text:
            dest.write_text(text)
    # An earlier version installed a start-up hook here; remove it if present.
    (site / f"{PLUGIN_PACKAGE}.pth").unlink(missing_ok=True)
    dist = site / f"{PLUGIN_PACKAGE}-0.0.0.dist-info"
    dist.mkdir(exist_ok=True)
    files = {
        "METADATA": f"Metadata-Version: 2.1\nName: {PLUGIN_PACKAGE}\nVersion: 0.0.0\n",
        "entry_points.txt": ENTRY_POINTS,
        "top_level.txt": f"{PLUGIN_PACKAGE}\n",
        "RECORD": "",
    }
    for name, text in files.items():
        path = dist / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
