"""Writes a kubeconfig pointing at the fake server (plain HTTP, dummy bearer token).

Only file writing: the token is a fixed placeholder, the fake server accepts any.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CONTEXT = "osk8s-fake"


def write_kubeconfig(path: Path, *, server: str, namespace: str = "default") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": "fake-token"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
