"""Write what clients need to use the test cloud: clouds.yaml, a CPO cloud.conf and an env file.

``clouds.yaml`` has ``osk8s-admin`` and ``osk8s-demo``; ``cloud.conf`` is CPO's INI for the demo
user with the demo network ids. All three hold passwords, so they are written mode 0600.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from osk8s_testing.testcloud.layout import Layout
from osk8s_testing.testcloud.passwords import Passwords
from osk8s_testing.testcloud.services.base import HOST, PORTS, REGION

ADMIN_CLOUD = "osk8s-admin"
DEMO_CLOUD = "osk8s-demo"


def _write_private(path: Path, text: str) -> None:
    """Write beside ``path`` and rename over it: an ``up`` while tests run (the lifecycle
    contract test does one) must never let a reader see the file empty or half written."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temp, path)


def _cloud(user: str, password: str, project: str) -> dict[str, Any]:
    return {
        "auth": {
            "auth_url": f"http://{HOST}:{PORTS['keystone']}/v3",
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": REGION,
        "interface": "public",
        "identity_api_version": 3,
    }


def clouds_yaml(passwords: Passwords) -> str:
    clouds = {
        ADMIN_CLOUD: _cloud("admin", passwords.admin.reveal(), "admin"),
        DEMO_CLOUD: _cloud("demo", passwords.demo.reveal(), "demo"),
    }
    return yaml.safe_dump({"clouds": clouds}, sort_keys=False)


def cloud_conf(passwords: Passwords, state: Mapping[str, Any], selected: frozenset[str]) -> str:
    """CPO's INI (matches CPO key names: auth-url, tenant-name, floating-network-id...)."""
    lines = [
        "[Global]",
        f"auth-url = http://{HOST}:{PORTS['keystone']}/v3",
        "username = demo",
        f"password = {passwords.demo.reveal()}",
        "tenant-name = demo",
        f"tenant-id = {state.get('identity', {}).get('demo_project_id', '')}",
        "user-domain-name = Default",
        "tenant-domain-name = Default",
        f"region = {REGION}",
    ]
    net = state.get("network", {})
    if "octavia" in selected and net:
        lines += [
            "",
            "[LoadBalancer]",
            "lb-provider = amphora",
            f"network-id = {net['network_id']}",
            f"subnet-id = {net['subnet_id']}",
            f"floating-network-id = {net['floating_network_id']}",
            f"floating-subnet-id = {net['floating_subnet_id']}",
        ]
    if net:
        lines += ["", "[Networking]", "public-network-name = osk8s-public"]
    if "cinder" in selected:
        # Cinder has one availability zone ("nova"); Nova's hosts are in az-1 and az-2, so a
        # node's zone is not a Cinder zone (as on clouds whose Cinder has no zones).
        lines += ["", "[BlockStorage]", "ignore-volume-az = true"]
    return "\n".join(lines) + "\n"


def env_file(layout: Layout) -> str:
    return (
        f"export OS_CLIENT_CONFIG_FILE={layout.clouds_yaml}\n"
        f"export OS_CLOUD={DEMO_CLOUD}\n"
        f"export OSK8S_TESTCLOUD_DIR={layout.root}\n"
        f"export OSK8S_CLOUD_CONF={layout.cloud_conf}\n"
    )


def write_all(
    *, layout: Layout, passwords: Passwords, state: Mapping[str, Any], selected: frozenset[str]
) -> None:
    _write_private(layout.clouds_yaml, clouds_yaml(passwords))
    _write_private(layout.cloud_conf, cloud_conf(passwords, state, selected))
    _write_private(layout.env_file, env_file(layout))
