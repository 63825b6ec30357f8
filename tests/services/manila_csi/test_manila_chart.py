"""The chart's osk8s-only value ``csimanila.controllerSecretName`` (beyond CPO): the Secret is
mounted into the controller plugin and named by ``--controller-secrets-dir``; unset, the
rendering is CPO's (no flag, no volume)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def _charts() -> ModuleType:
    name = "osk8s_build_charts"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "charts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _controller(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rendered = _charts().render("openstack-manila-csi", values)
    [sts] = [o for o in rendered.objects if o["kind"] == "StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    [plugin] = [c for c in pod["containers"] if c["name"] == "nfs-controllerplugin"]
    return pod, plugin


def test_controller_secret_mounted_and_flagged() -> None:
    pod, plugin = _controller({"csimanila": {"controllerSecretName": "manila-creds"}})
    assert "--controller-secrets-dir=/etc/manila-csi/controller-secrets" in plugin["args"]
    assert {"name": "controller-secrets", "secret": {"secretName": "manila-creds"}} in pod[
        "volumes"
    ]
    mount = [m for m in plugin["volumeMounts"] if m["name"] == "controller-secrets"]
    assert mount == [
        {
            "name": "controller-secrets",
            "mountPath": "/etc/manila-csi/controller-secrets",
            "readOnly": True,
        }
    ]


def test_default_rendering_has_no_controller_secret() -> None:
    pod, plugin = _controller({})
    assert not any("controller-secrets" in a for a in plugin["args"])
    assert all(v["name"] != "controller-secrets" for v in pod["volumes"])
