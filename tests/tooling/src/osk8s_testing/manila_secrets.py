"""The CSI Secret a Manila CSI user writes (``os-*`` keys, password auth) for a cloud of the
test cloud's clouds.yaml: used by the manila tests, demo and benchmark."""

from __future__ import annotations

from pathlib import Path

import yaml


def manila_secrets(
    clouds_yaml: Path, cloud: str = "osk8s-demo", *, auth_url: str | None = None
) -> dict[str, str]:
    """``auth_url`` replaces the cloud's (e.g. a fault proxy in front of Keystone)."""
    entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][cloud]
    auth = entry["auth"]
    return {
        "os-authURL": auth_url or auth["auth_url"],
        "os-userName": auth["username"],
        "os-password": auth["password"],
        "os-projectName": auth["project_name"],
        "os-userDomainName": auth["user_domain_name"],
        "os-projectDomainName": auth["project_domain_name"],
        "os-region": entry.get("region_name", "RegionOne"),
    }
