"""The shipped examples for operators are valid: the webhook kubeconfig points at the port the
Service and the chart serve, and the example policy ConfigMap loads with our policy parser."""

from __future__ import annotations

from pathlib import Path

import yaml

from osk8s_keystone_auth.authorizer import Attributes, authorize
from osk8s_keystone_auth.identity import PROJECT_ID, PROJECT_NAME, ROLES
from osk8s_keystone_auth.policy import parse_policies

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "k8s-keystone-auth"


def test_keystone_webhook_kubeconfig_targets_the_served_port_and_path() -> None:
    config = yaml.safe_load((EXAMPLES / "examples" / "webhook-kubeconfig.yaml").read_text())
    assert config["kind"] == "Config"
    (cluster,) = config["clusters"]
    server = cluster["cluster"]["server"]
    assert server.startswith("https://") and server.endswith("/webhook")
    services = [
        doc
        for doc in yaml.safe_load_all((EXAMPLES / "deployment.yaml").read_text())
        if doc and doc["kind"] == "Service"
    ]
    ports = {port["port"] for port in services[0]["spec"]["ports"]}
    assert int(server.split(":")[2].split("/")[0]) in ports
    assert config["current-context"] == config["contexts"][0]["name"]


def test_keystone_example_policy_configmap_parses() -> None:
    configmap = yaml.safe_load((EXAMPLES / "examples" / "policy-configmap.yaml").read_text())
    policies = parse_policies(configmap["data"]["policies"])
    member = {ROLES: ("member",), PROJECT_ID: ("p-1",), PROJECT_NAME: ("demo",)}
    ask = {"user": "alice", "groups": ("p-1",), "namespace": "team-a", "resource": "pods"}
    assert authorize(policies, Attributes(extra=member, verb="list", **ask)) is True
    assert authorize(policies, Attributes(extra=member, verb="delete", **ask)) is False
    outsider = {ROLES: ("member",), PROJECT_ID: ("p-2",), PROJECT_NAME: ("other",)}
    assert authorize(policies, Attributes(extra=outsider, verb="list", **ask)) is False
