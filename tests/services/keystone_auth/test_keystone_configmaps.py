"""ConfigMap hot reload through the core informer, against the in-memory kube-apiserver."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from osk8s_core.errors import ConfigError
from osk8s_core.logging import get_logger
from osk8s_keystone_auth.service import build
from osk8s_testing.kubeapi import KubeApiServer

from .conftest import FakeKeystone, TlsFiles
from .test_keystone_webhook import options

ALLOW_PODS = [{"resource_permissions": {"*/pods": ["get"]}}]
ALLOW_SECRETS = [{"resource_permissions": {"*/secrets": ["get"]}}]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kube-system"}, "data": data}


def resources(hook: Any) -> set[str]:
    return {key for p in hook.live.snapshot.policies for key, _ in p.resource_permissions or ()}


@pytest.fixture
def core(kube_api: KubeApiServer) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api.api_client())


def test_keystone_policy_configmap_hot_reload(
    kube_api: KubeApiServer,
    core: client.CoreV1Api,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
) -> None:
    core.create_namespaced_config_map(
        "kube-system", configmap("k8s-auth-policy", {"policies": json.dumps(ALLOW_PODS)})
    )
    opts = options(tls_files, fake_keystone, policy_configmap_name="k8s-auth-policy")
    hook = build(
        opts, logger=get_logger("test"), environ={}, api_client=kube_api.api_client()
    ).start()
    try:
        assert resources(hook) == {"*/pods"}  # loaded at start, before serving
        core.patch_namespaced_config_map(
            "k8s-auth-policy", "kube-system", {"data": {"policies": json.dumps(ALLOW_SECRETS)}}
        )
        wait_for(lambda: resources(hook) == {"*/secrets"})
        # A bad new version keeps the last good one.
        reloads = hook.live.policy_reloads
        core.patch_namespaced_config_map(
            "k8s-auth-policy", "kube-system", {"data": {"policies": "[{oops"}}
        )
        core.create_namespaced_config_map("kube-system", configmap("marker", {}))
        # Events are handled in order: once the later marker is cached, the bad version was
        # seen (a fixed sleep could end before it was, and prove nothing on a slow machine).
        wait_for(
            lambda: any(o["metadata"]["name"] == "marker" for o in hook.informer.store.objects())
        )
        assert resources(hook) == {"*/secrets"} and hook.live.policy_reloads == reloads
        # Deleted: no policy, deny everything (matches CPO).
        core.delete_namespaced_config_map("k8s-auth-policy", "kube-system")
        wait_for(lambda: hook.live.snapshot.policies == ())
    finally:
        hook.stop()


def test_keystone_sync_configmap_hot_reload_and_file_precedence(
    kube_api: KubeApiServer,
    core: client.CoreV1Api,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
    tmp_path: Path,
) -> None:
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(ALLOW_PODS))
    core.create_namespaced_config_map(
        "kube-system", configmap("policy", {"policies": json.dumps(ALLOW_SECRETS)})
    )
    core.create_namespaced_config_map(
        "kube-system", configmap("sync", {"syncConfig": "namespace-format: 'k-%i'"})
    )
    opts = replace(
        options(tls_files, fake_keystone),
        keystone_policy_file=str(policy_file),
        policy_configmap_name="policy",
        sync_configmap_name="sync",
    )
    hook = build(
        opts, logger=get_logger("test"), environ={}, api_client=kube_api.api_client()
    ).start()
    try:
        # The file wins at start, as CPO documents...
        assert resources(hook) == {"*/pods"}
        sync = hook.live.snapshot.sync
        assert sync is not None and sync.namespace_format == "k-%i"
        # ...until the ConfigMap changes.
        allow_cm = [{"resource_permissions": {"*/configmaps": ["get"]}}]
        core.patch_namespaced_config_map(
            "policy", "kube-system", {"data": {"policies": json.dumps(allow_cm)}}
        )
        wait_for(lambda: resources(hook) == {"*/configmaps"})
        core.patch_namespaced_config_map(
            "sync", "kube-system", {"data": {"syncConfig": "namespace-format: 'x-%i'"}}
        )
        wait_for(
            lambda: (
                hook.live.snapshot.sync is not None
                and hook.live.snapshot.sync.namespace_format == "x-%i"
            )
        )
        core.delete_namespaced_config_map("sync", "kube-system")
        wait_for(
            lambda: (
                hook.live.snapshot.sync is not None
                and hook.live.snapshot.sync.namespace_format == "%i"
            )
        )
    finally:
        hook.stop()


def test_keystone_invalid_configmap_at_start_is_fatal(
    kube_api: KubeApiServer,
    core: client.CoreV1Api,
    tls_files: TlsFiles,
    fake_keystone: FakeKeystone,
) -> None:
    core.create_namespaced_config_map("kube-system", configmap("policy", {"policies": "{}"}))
    opts = options(tls_files, fake_keystone, policy_configmap_name="policy")
    with pytest.raises(ConfigError, match="must be a JSON list"):
        build(opts, logger=get_logger("test"), environ={}, api_client=kube_api.api_client())


def test_keystone_invalid_policy_file_is_fatal(
    tls_files: TlsFiles, fake_keystone: FakeKeystone, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"resource": {"verbs": "get"}}]')  # Go's decoder refuses it too
    with pytest.raises(ConfigError, match=r"policy\[0\]\.resource\.verbs"):
        build(
            options(tls_files, fake_keystone, keystone_policy_file=str(path)),
            logger=get_logger("t"),
            environ={},
        )


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []

    def info(self, event: str, **_: Any) -> None:
        self.events.append(event)

    warning = error = info


def cm(name: str, rv: str, policies: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "kube-system", "resourceVersion": rv},
        "data": {"policies": policies},
    }


def test_keystone_reloader_skips_resyncs_and_logs_a_bad_version_once() -> None:
    from osk8s_keystone_auth.configmaps import ConfigMapNames, ConfigMapReloader
    from osk8s_keystone_auth.live_config import LiveConfig

    live, log = LiveConfig(), Log()
    reloader = ConfigMapReloader(names=ConfigMapNames(policy="p"), live=live, logger=log)
    reloader.apply(cm("p", "1", json.dumps(ALLOW_PODS)))
    reloader.apply(cm("p", "1", json.dumps(ALLOW_PODS)))  # resync
    assert live.policy_reloads == 1
    for _ in range(3):
        reloader.apply(cm("p", "2", "[oops"))
    assert reloader.rejected == 1 and len(live.snapshot.policies) == 1
    reloader.apply(cm("other", "3", "[oops"))  # not ours
    reloader.apply({**cm("p", "4", "[]"), "metadata": {"name": "p", "namespace": "default"}})
    assert live.policy_reloads == 1 and reloader.rejected == 1
    reloader.deleted(cm("p", "2", ""))
    assert live.snapshot.policies == ()
