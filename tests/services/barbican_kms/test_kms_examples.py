"""The example EncryptionConfiguration talks KMS v2 to the socket the DaemonSet serves on."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests" / "barbican-kms-plugin"


def test_kms_example_encryption_config_uses_the_daemonset_socket() -> None:
    config = yaml.safe_load((MANIFESTS / "examples" / "encryption-config.yaml").read_text())
    assert config["kind"] == "EncryptionConfiguration"
    (rule,) = config["resources"]
    assert rule["resources"] == ["secrets"]
    kms = rule["providers"][0]["kms"]
    assert kms["apiVersion"] == "v2"
    daemonset = yaml.safe_load((MANIFESTS / "daemonset.yaml").read_text())
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    socket_flags = [a for a in container["args"] if a.startswith("--socketpath=")]
    assert kms["endpoint"] == "unix://" + socket_flags[0].split("=", 1)[1]
