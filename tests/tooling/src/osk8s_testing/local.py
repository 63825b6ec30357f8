"""Small local stand-ins tests of several services need: a free TCP port on 127.0.0.1 and a
kubeconfig that names an API server nobody listens on."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A port the OS just said is free on 127.0.0.1 (for servers whose port cannot be 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def offline_kubeconfig(directory: Path) -> Path:
    """A kubeconfig naming an API server nobody listens on (127.0.0.1:9): enough for a
    process to be built from its flags without talking to Kubernetes."""
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    return kubeconfig
