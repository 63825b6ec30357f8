"""Every console script carries its upstream binary name and answers --help and --version.

These run the installed scripts as subprocesses, as an operator (or a container entrypoint)
would, so a broken `[project.scripts]` entry or a heavy import at start-up shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# binary name -> (module holding the entry point, function)
ENTRY_POINTS = {
    "openstack-cloud-controller-manager": ("osk8s_ccm.cli", "main"),
    "cinder-csi-plugin": ("osk8s_cinder_csi.cli", "main"),
    "manila-csi-plugin": ("osk8s_manila_csi.cli", "main"),
    "octavia-ingress-controller": ("osk8s_octavia_ingress.cli", "main"),
    "k8s-keystone-auth": ("osk8s_keystone_auth.cli", "main"),
    "client-keystone-auth": ("osk8s_keystone_auth.cli", "client_main"),
    "barbican-kms-plugin": ("osk8s_barbican_kms.cli", "main"),
    "capo-controller-manager": ("osk8s_capo.cli", "main"),
}

# Libraries that cost hundreds of ms to import: --help must not pay for them.
HEAVY = ("openstack", "kubernetes", "grpc", "keystoneauth1")

# Flags operators already have in their manifests (upstream spelling), per binary.
UPSTREAM_FLAGS = {
    "openstack-cloud-controller-manager": ["--cloud-config", "--cluster-name", "--user-agent"],
    "cinder-csi-plugin": ["--endpoint", "--cloud-config", "--cluster", "--with-topology"],
    "manila-csi-plugin": ["--endpoint", "--drivername", "--share-protocol-selector"],
    "octavia-ingress-controller": ["--config"],
    "k8s-keystone-auth": ["--listen", "--keystone-url", "--keystone-policy-file"],
    "client-keystone-auth": ["--keystone-url", "--application-credential-id"],
    "barbican-kms-plugin": ["--socketpath", "--cloud-config"],
    "capo-controller-manager": ["--leader-elect", "--metrics-bind-addr"],
}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("binary", sorted(ENTRY_POINTS))
def test_version(binary: str) -> None:
    result = run(str(BIN / binary), "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{binary} (osk8s) ")


@pytest.mark.parametrize("binary", sorted(ENTRY_POINTS))
def test_help_lists_upstream_flags(binary: str) -> None:
    result = run(str(BIN / binary), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {binary}")
    for flag in UPSTREAM_FLAGS[binary]:
        assert flag in result.stdout, f"{binary} --help lacks {flag}"


# Upstream's exit status on a flag error: component-base cli.Run (cobra) exits 1 with
# "Error: unknown flag: --x"; pflag.Parse (ExitOnError) prints "unknown flag: --x", exits 2.
PFLAG_PARSE = {"client-keystone-auth", "capo-controller-manager"}


@pytest.mark.parametrize("binary", sorted(ENTRY_POINTS))
def test_unknown_flag_is_a_usage_error(binary: str) -> None:
    result = run(str(BIN / binary), "--no-such-flag")
    if binary in PFLAG_PARSE:
        assert result.returncode == 2
        assert result.stderr.startswith("unknown flag: --no-such-flag\n")
    else:
        assert result.returncode == 1
        assert "Error: unknown flag: --no-such-flag" in result.stderr


@pytest.mark.parametrize("binary", sorted(ENTRY_POINTS))
def test_help_imports_no_heavy_library(binary: str) -> None:
    module, func = ENTRY_POINTS[binary]
    probe = (
        "import importlib, json, sys\n"
        f"entry = getattr(importlib.import_module({module!r}), {func!r})\n"
        "try:\n"
        "    entry(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"{binary} --help imported {loaded}"
