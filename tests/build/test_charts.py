"""Charts render with Helm's engine, validate against Kubernetes schemas and match manifests/."""

from __future__ import annotations

import base64
import configparser
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

# The oldest Kubernetes the charts declare (kubeVersion) and the newest schemas shipped.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
# Prometheus Operator objects (optional, off by default) have no upstream schema.
CRD_GROUPS = ("monitoring.coreos.com/", "cert-manager.io/")  # CRD kinds: no built-in schema

EXPECTED_CHARTS = {
    "openstack-cloud-controller-manager": "openstack-cloud-controller-manager",
    "openstack-cinder-csi": "cinder-csi-plugin",
    "openstack-manila-csi": "manila-csi-plugin",
    "octavia-ingress-controller": "octavia-ingress-controller",
    "k8s-keystone-auth": "k8s-keystone-auth",
    "barbican-kms-plugin": "barbican-kms-plugin",
    "capo-controller-manager": "capo-controller-manager",
}

# Pods allowed to run as root (as upstream), and whether privileged: the cinder node plugin
# mounts and formats volumes; manila's node plugin and the KMS plugin create their sockets in
# root-owned host directories.
ROOT_ALLOWED = {
    ("openstack-cinder-csi", "openstack-cinder-csi-nodeplugin"): True,
    ("openstack-manila-csi", "openstack-manila-csi-nodeplugin"): False,
    ("barbican-kms-plugin", "barbican-kms-plugin"): False,
}

# Every optional part switched on, per chart, so schema validation covers it too.
FULL_VALUES: dict[str, dict[str, Any]] = {
    "openstack-cloud-controller-manager": {
        "serviceMonitor": {"enabled": True, "additionalLabels": {"team": "a"}},
        "controllerExtraArgs": "- --user-agent=a\n- --cluster-cidr=10.0.0.0/16",
        "cloudConfig": {"global": {"auth-url": "https://k:5000/v3"}, "route": {"router-id": "r"}},
        "commonAnnotations": {"note": "x"},
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["keystone.example"]}],
        "extraInitContainers": [{"name": "wait", "image": "busybox"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 10258, "scheme": "HTTPS"}},
    },
    "openstack-cinder-csi": {
        "podMonitor": {"enabled": True},
        "pvcAnnotations": True,
        "secret": {"create": True, "data": {"cloud.conf": "[Global]\n"}},
        "csi": {
            "plugin": {"httpEndpoint": {"enabled": True}, "extraArgs": {"with-topology": "false"}}
        },
        "storageClass": {"delete": {"isDefault": True}},
    },
    "openstack-manila-csi": {
        "csimanila": {
            "topologyAwarenessEnabled": True,
            "runtimeConfig": {"enabled": True, "jsonData": "{}"},
            "clusterID": "c1",
            "pvcAnnotations": True,
        },
        "shareProtocols": [
            {
                "protocolSelector": "NFS",
                "fsGroupPolicy": "None",
                "fwdNodePluginEndpoint": {"dir": "/var/lib/kubelet/plugins/nfs", "sockFile": "s"},
            },
            {
                "protocolSelector": "CEPHFS",
                "fsGroupPolicy": "None",
                "fwdNodePluginEndpoint": {"dir": "/var/lib/kubelet/plugins/ceph", "sockFile": "s"},
            },
        ],
    },
    "octavia-ingress-controller": {"debug": True},
    "k8s-keystone-auth": {
        "sync": {"enabled": True, "syncConfig": {"role-mappings": []}},
        "keystoneCAFile": "/etc/ca/ca.crt",
    },
    "barbican-kms-plugin": {"secret": {"create": False}},
    "capo-controller-manager": {"watchNamespace": "ns", "watchFilter": "f", "leaderElect": False},
}


@pytest.fixture(scope="module")
def charts(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("scripts/charts.py")


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def _args(pod: dict[str, Any], container: str) -> list[str]:
    for c in pod["containers"]:
        if c["name"] == container:
            return list(c.get("args", []))
    raise KeyError(container)


def test_every_service_has_a_chart(charts: ModuleType) -> None:
    assert charts.chart_names() == sorted(EXPECTED_CHARTS)


@pytest.mark.parametrize("chart", sorted(EXPECTED_CHARTS))
@pytest.mark.parametrize("variant", ["defaults", "full"])
def test_renders_and_validates_against_kubernetes_schemas(
    charts: ModuleType, chart: str, variant: str
) -> None:
    values = FULL_VALUES[chart] if variant == "full" else {}
    rendered = charts.render(chart, values)
    assert rendered.objects, "chart renders nothing"
    for obj in rendered.objects:
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        for version in K8S_VERSIONS:
            # strict: unknown fields are errors too (typos in templates show up here).
            kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("chart", sorted(EXPECTED_CHARTS))
def test_lint_has_no_errors(charts: ModuleType, chart: str) -> None:
    import helm_python as helm

    assert helm.lint(str(charts.CHARTS / chart))["errors"] == []


@pytest.mark.parametrize("chart", sorted(EXPECTED_CHARTS))
def test_our_containers_use_our_image_and_run_as_non_root(charts: ModuleType, chart: str) -> None:
    rendered = charts.render(chart)
    ours = 0
    for name, pod in _pod_specs(rendered.objects):
        for container in pod["containers"]:
            if not container["image"].startswith("osk8s/"):
                continue  # CSI sidecars from registry.k8s.io
            ours += 1
            assert container["image"].endswith(":0.1.0"), "tag defaults to appVersion"
            security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
            if security.get("runAsUser") == 0:
                assert (chart, name) in ROOT_ALLOWED, f"{name} runs as root"
                assert security.get("privileged", False) == ROOT_ALLOWED[(chart, name)]
                continue
            assert security.get("runAsNonRoot") is True
            assert security.get("runAsUser") == 65532
            assert security.get("allowPrivilegeEscalation") is False
    images = {c["image"] for _, p in _pod_specs(rendered.objects) for c in p["containers"]}
    assert f"osk8s/{EXPECTED_CHARTS[chart]}:0.1.0" in images
    assert ours >= 1


def test_image_names_match_the_bazel_image_tags(charts: ModuleType) -> None:
    service_build = (charts.ROOT / "bazel" / "service.bzl").read_text()
    assert 'tag = "osk8s/%s:%s" % (names[0], version)' in service_build
    builds = " ".join(p.read_text() for p in charts.ROOT.glob("services/*/BUILD.bazel"))
    for binary in EXPECTED_CHARTS.values():
        assert f'("{binary}",' in builds


def test_ccm_cloud_config_is_rendered_from_values(charts: ModuleType) -> None:
    rendered = charts.render(
        "openstack-cloud-controller-manager",
        {
            "cloudConfig": {
                "global": {"auth-url": "https://keystone:5000/v3", "region": "RegionOne"},
                "loadBalancer": {"floating-network-id": "net-1", "lb-provider": "ovn"},
            },
            "cluster": {"name": "prod"},
            "enabledControllers": ["cloud-node", "service"],
        },
    )
    secret = rendered.named("Secret", "cloud-config")
    ini = configparser.ConfigParser()
    ini.read_string(base64.b64decode(secret["data"]["cloud.conf"]).decode())
    assert ini["Global"]["auth-url"] == '"https://keystone:5000/v3"'  # quoted, as CPO's chart
    assert ini["Global"]["region"] == '"RegionOne"'
    assert ini["LoadBalancer"]["lb-provider"] == '"ovn"'
    assert not ini.has_section("Route"), "empty sections are left out"
    pod = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    assert "--controllers=cloud-node,service" in _args(pod, "openstack-cloud-controller-manager")
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["CLUSTER_NAME"] == "prod"
    taints = {t["key"] for t in pod["tolerations"]}
    assert "node.cloudprovider.kubernetes.io/uninitialized" in taints


def test_ccm_takes_the_values_file_of_cpos_chart(charts: ModuleType, tmp_path: Any) -> None:
    """CPO's own values.yaml (third_party/cpo-deploy), as an operator has it, with extra args
    in CPO's YAML-list form and the service monitor on: same keys, same meaning."""
    cpo = charts.ROOT / "third_party/cpo-deploy/charts/openstack-cloud-controller-manager"
    values = yaml.safe_load((cpo / "values.yaml").read_text())
    values.pop("image")  # theirs names their registry
    values["controllerExtraArgs"] = "- --cluster-cidr=10.244.0.0/16\n- --allocate-node-cidrs=true"
    values["serviceMonitor"] = {"enabled": True}
    values["cloudConfig"]["global"] = {"auth-url": "https://k:5000/v3", "password": 'p"w\\x;#'}
    values["cloudConfig"]["route"] = {"router-id": "r-1"}
    rendered = charts.render("openstack-cloud-controller-manager", values)
    pod = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    args = _args(pod, "openstack-cloud-controller-manager")
    assert args[-3:] == [
        "--bind-address=0.0.0.0",
        "--cluster-cidr=10.244.0.0/16",
        "--allocate-node-cidrs=true",
    ]
    assert pod["serviceAccountName"] == "cloud-controller-manager"
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert pod["containers"][0]["ports"][0]["containerPort"] == 10258
    delegate = rendered.named(
        "ClusterRoleBinding", "system:openstack-cloud-controller-manager:auth-delegate"
    )
    assert delegate["roleRef"]["name"] == "system:auth-delegator"
    assert delegate["subjects"][0]["name"] == (
        "system:serviceaccount:kube-system:cloud-controller-manager"
    )
    # CPO's selector labels: `helm upgrade` from a CPO release keeps the DaemonSet.
    selector = rendered.of_kind("DaemonSet")[0]["spec"]["selector"]["matchLabels"]
    assert set(selector) == {"component", "app", "release"}
    # The quoted cloud.conf reads back through our loader (gcfg quoting).
    from osk8s_core.config.loader import load_cloud_config

    conf = base64.b64decode(rendered.named("Secret", "cloud-config")["data"]["cloud.conf"])
    path = tmp_path / "cloud.conf"
    path.write_bytes(conf)
    loaded = load_cloud_config([path], environ={}).config
    assert loaded.route.router_id == "r-1"
    assert loaded.global_.password is not None
    assert loaded.global_.password.reveal() == 'p"w\\x;#'
    assert loaded.global_.auth_url == "https://k:5000/v3"


def test_ccm_rbac_is_cpos(charts: ModuleType) -> None:
    """The ClusterRole grants exactly what CPO's system:cloud-controller-manager grants (the
    process needs nothing more: leases, node and service status patches, events)."""
    roles = charts.ROOT / "third_party/cpo-deploy/manifests/controller-manager"
    items = yaml.safe_load((roles / "cloud-controller-manager-roles.yaml").read_text())["items"]
    cpo = next(i for i in items if i["metadata"]["name"] == "system:cloud-controller-manager")
    ours = charts.render("openstack-cloud-controller-manager").named(
        "ClusterRole", "system:cloud-controller-manager"
    )

    def rules(role: dict[str, Any]) -> list[tuple[tuple[str, ...], ...]]:
        return sorted(
            (tuple(r.get("apiGroups", [])), tuple(r["resources"]), tuple(sorted(r["verbs"])))
            for r in role["rules"]
        )

    assert rules(ours) == rules(cpo)


def test_ccm_daemonset_runs_on_control_plane_nodes_with_cpos_secret(charts: ModuleType) -> None:
    """Defaults as CPO's chart values (nodeSelector, tolerations) and CPO's DaemonSet manifest
    (host network, kube-system, the `cloud-config` Secret's cloud.conf at /etc/config)."""
    cpo = charts.ROOT / "third_party/cpo-deploy"
    cpo_values = yaml.safe_load(
        (cpo / "charts/openstack-cloud-controller-manager/values.yaml").read_text()
    )
    manifest = cpo / "manifests/controller-manager/openstack-cloud-controller-manager-ds.yaml"
    cpo_ds = next(d for d in yaml.safe_load_all(manifest.read_text()) if d["kind"] == "DaemonSet")
    cpo_pod = cpo_ds["spec"]["template"]["spec"]
    rendered = charts.render("openstack-cloud-controller-manager")
    (ds,) = rendered.of_kind("DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert ds["metadata"]["namespace"] == cpo_ds["metadata"]["namespace"] == "kube-system"
    assert pod["nodeSelector"] == cpo_values["nodeSelector"]
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert pod["tolerations"] == cpo_values["tolerations"]
    assert pod["hostNetwork"] is cpo_pod["hostNetwork"] is True
    assert pod["serviceAccountName"] == cpo_pod["serviceAccountName"]
    assert pod["priorityClassName"] == "system-cluster-critical"

    def secret_mount(spec: dict[str, Any]) -> tuple[str, str, str]:
        volume = next(v for v in spec["volumes"] if "secret" in v)
        (container,) = spec["containers"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        env = {e["name"]: e["value"] for e in container["env"]}
        return volume["secret"]["secretName"], mount["mountPath"], env["CLOUD_CONFIG"]

    assert (
        secret_mount(pod)
        == secret_mount(cpo_pod)
        == (
            "cloud-config",
            "/etc/config",
            "/etc/config/cloud.conf",
        )
    )
    secret = rendered.named("Secret", "cloud-config")
    assert secret["metadata"]["namespace"] == "kube-system"
    assert set(secret["data"]) == {"cloud.conf"}


def test_ccm_existing_secret_is_not_created(charts: ModuleType) -> None:
    rendered = charts.render(
        "openstack-cloud-controller-manager", {"secret": {"create": False, "name": "mine"}}
    )
    assert rendered.of_kind("Secret") == []
    pod = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    assert {"name": "cloud-config-volume", "secret": {"secretName": "mine"}} in pod["volumes"]


def test_octavia_ingress_config_is_upstreams_configmap(charts: ModuleType) -> None:
    """Upstream's form (using-octavia-ingress-controller.md): ConfigMap
    octavia-ingress-controller-config, key ``config``, read from
    /etc/config/octavia-ingress-controller-config.yaml; a Secret only when asked for."""
    chart = "octavia-ingress-controller"
    rendered = charts.render(chart, {"config": {"cluster-name": "c7"}})
    assert rendered.of_kind("Secret") == []
    config_map = rendered.named("ConfigMap", "octavia-ingress-controller-config")
    assert yaml.safe_load(config_map["data"]["config"])["cluster-name"] == "c7"
    pod = rendered.of_kind("StatefulSet")[0]["spec"]["template"]["spec"]
    args = _args(pod, "octavia-ingress-controller")
    assert "--config=/etc/config/octavia-ingress-controller-config.yaml" in args
    items = [{"key": "config", "path": "octavia-ingress-controller-config.yaml"}]
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume == {
        "name": "config",
        "configMap": {"name": "octavia-ingress-controller-config", "items": items},
    }
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert mount["mountPath"] == "/etc/config"
    # An operator's own ConfigMap (e.g. upstream's, applied unchanged): none is made.
    own = charts.render(chart, {"existingConfigMap": "mine"})
    assert own.of_kind("ConfigMap") == []
    volume = own.of_kind("StatefulSet")[0]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"] == {"name": "mine", "items": items}
    # Opt-in: the credentials in a Secret of the same shape.
    secret = charts.render(chart, {"existingSecret": "creds"})
    assert secret.of_kind("ConfigMap") == [] and secret.of_kind("Secret") == []
    volume = secret.of_kind("StatefulSet")[0]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["secret"] == {"secretName": "creds", "items": items}


def test_cinder_storage_classes_and_split_services(charts: ModuleType) -> None:
    rendered = charts.render("openstack-cinder-csi", {"clusterID": "c9", "pvcAnnotations": True})
    classes = {
        sc["metadata"]["name"]: sc["reclaimPolicy"] for sc in rendered.of_kind("StorageClass")
    }
    assert classes == {"csi-cinder-sc-delete": "Delete", "csi-cinder-sc-retain": "Retain"}
    driver = rendered.of_kind("CSIDriver")[0]
    assert driver["metadata"]["name"] == "cinder.csi.openstack.org"
    assert driver["spec"]["attachRequired"] is True
    controller = rendered.of_kind("Deployment")[0]["spec"]["template"]["spec"]
    plugin_args = _args(controller, "cinder-csi-plugin")
    assert {"--cluster=c9", "--pvc-annotations", "--provide-node-service=false"} <= set(plugin_args)
    sidecars = {c["name"] for c in controller["containers"]}
    assert sidecars >= {"csi-attacher", "csi-provisioner", "csi-snapshotter", "csi-resizer"}
    node = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    assert "--provide-controller-service=false" in _args(node, "cinder-csi-plugin")


def test_cinder_host_mounted_cloud_config(charts: ModuleType) -> None:
    rendered = charts.render("openstack-cinder-csi", {"secret": {"hostMount": True}})
    pod = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "cloud-config")
    assert volume == {"name": "cloud-config", "hostPath": {"path": "/etc/kubernetes"}}


def test_manila_one_driver_per_share_protocol(charts: ModuleType) -> None:
    rendered = charts.render("openstack-manila-csi", FULL_VALUES["openstack-manila-csi"])
    drivers = sorted(d["metadata"]["name"] for d in rendered.of_kind("CSIDriver"))
    assert drivers == ["cephfs.manila.csi.openstack.org", "nfs.manila.csi.openstack.org"]
    controller = rendered.of_kind("StatefulSet")[0]["spec"]["template"]["spec"]
    args = _args(controller, "cephfs-controllerplugin")
    assert "--runtime-config-file=/runtimeconfig/runtimeconfig.json" in args
    assert "--with-topology" in args and "--cluster-id=c1" in args
    env = {e["name"]: e["value"] for e in controller["containers"][3]["env"]}
    assert env["FWD_CSI_ENDPOINT"] == "unix:///var/lib/kubelet/plugins/nfs/s"


def test_keystone_sync_adds_flags_and_rbac(charts: ModuleType) -> None:
    plain = charts.render("k8s-keystone-auth")
    synced = charts.render("k8s-keystone-auth", FULL_VALUES["k8s-keystone-auth"])
    plain_rules = plain.of_kind("ClusterRole")[0]["rules"]
    synced_rules = synced.of_kind("ClusterRole")[0]["rules"]
    assert len(synced_rules) > len(plain_rules)
    pod = synced.of_kind("Deployment")[0]["spec"]["template"]["spec"]
    args = _args(pod, "k8s-keystone-auth")
    assert "--sync-configmap-name=keystone-sync-policy" in args
    assert "--keystone-ca-file=/etc/ca/ca.crt" in args


def test_barbican_kms_socket_on_the_host(charts: ModuleType) -> None:
    rendered = charts.render("barbican-kms-plugin", {"socketDir": "/run/kms"})
    pod = rendered.of_kind("DaemonSet")[0]["spec"]["template"]["spec"]
    assert "--socketpath=/run/kms/kms.sock" in _args(pod, "barbican-kms-plugin")
    socket = next(v for v in pod["volumes"] if v["name"] == "socket-dir")
    assert socket["hostPath"]["path"] == "/run/kms"


def test_capo_flags_follow_values(charts: ModuleType) -> None:
    pod = charts.render("capo-controller-manager", FULL_VALUES["capo-controller-manager"])
    spec = pod.of_kind("Deployment")[0]["spec"]["template"]["spec"]
    args = _args(spec, "manager")
    assert "--leader-elect" not in args
    assert {"--namespace=ns", "--watch-filter=f"} <= set(args)
    assert pod.of_kind("Deployment")[0]["metadata"]["namespace"] == "capo-system"


def test_manifests_match_the_charts(charts: ModuleType) -> None:
    assert charts.drifted() == [], "run scripts/charts.py"


def test_manifest_drift_is_detected(charts: ModuleType, tmp_path: Any) -> None:
    charts.write(tmp_path)
    assert charts.drifted(tmp_path) == []
    target = tmp_path / "openstack-cinder-csi" / "csidriver.yaml"
    target.write_text(target.read_text().replace("attachRequired: true", "attachRequired: false"))
    (tmp_path / "openstack-cinder-csi" / "extra.yaml").write_text("---\n")
    assert charts.drifted(tmp_path) == [
        "openstack-cinder-csi/csidriver.yaml",
        "openstack-cinder-csi/extra.yaml",
    ]


@pytest.mark.parametrize("chart", sorted(EXPECTED_CHARTS))
def test_misspelt_top_level_value_fails_the_render(charts: ModuleType, chart: str) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError, match="logVerbosityLevle"):
        charts.render(chart, {"logVerbosityLevle": 4})


@pytest.mark.parametrize(
    ("chart", "values", "where"),
    [
        (
            "openstack-cloud-controller-manager",
            {"enabledControllers": "service"},
            "/enabledControllers",
        ),
        (
            "openstack-cloud-controller-manager",
            {"image": {"pullPolicy": "Sometimes"}},
            "pullPolicy",
        ),
        ("openstack-cinder-csi", {"logVerbosityLevel": "high"}, "/logVerbosityLevel"),
        (
            "openstack-manila-csi",
            {"shareProtocols": [{"protocolSelector": "SMB"}]},
            "shareProtocols",
        ),
        ("capo-controller-manager", {"replicas": -1}, "/replicas"),
    ],
)
def test_values_of_the_wrong_shape_fail_the_render(
    charts: ModuleType, chart: str, values: dict[str, Any], where: str
) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError, match=where):
        charts.render(chart, values)


# Chart -> service folder, to tie "deprecated" to the services that are not written yet.
CHART_SERVICES = {
    "barbican-kms-plugin": "barbican_kms",
    "capo-controller-manager": "capo",
    "k8s-keystone-auth": "keystone_auth",
    "octavia-ingress-controller": "octavia_ingress",
    "openstack-cinder-csi": "cinder_csi",
    "openstack-cloud-controller-manager": "ccm",
    "openstack-manila-csi": "manila_csi",
}


def test_charts_of_unwritten_services_say_they_do_not_work(charts: ModuleType) -> None:
    """Issue 11 §6: a stub chart is deprecated, says so in NOTES and on every manifest."""
    from upstream_containers import UNWRITTEN

    assert sorted(CHART_SERVICES) == charts.chart_names()
    for chart, service in CHART_SERVICES.items():
        meta = yaml.safe_load((charts.CHARTS / chart / "Chart.yaml").read_text())
        stub = service in UNWRITTEN
        assert bool(meta.get("deprecated")) == stub, chart
        assert meta["description"].startswith("NOT WORKING YET") == stub, chart
        notes = charts.CHARTS / chart / "templates" / "NOTES.txt"
        assert (notes.exists() and "NOT WORKING YET" in notes.read_text()) == stub, chart
        for manifest in sorted((charts.MANIFESTS / chart).glob("*.yaml")):
            head = manifest.read_text().splitlines()[1]
            assert head.startswith("# NOT WORKING YET") == stub, manifest


def test_capo_webhooks_as_the_release(charts: ModuleType) -> None:
    """The chart's webhook objects match CAPO's infrastructure-components.yaml (Service 443 →
    webhook-server, cert-manager Issuer/Certificate, the cert Secret mounted where the manager
    reads it, the ValidatingWebhookConfiguration); webhook.enabled=false leaves them out."""
    release = [
        doc
        for doc in yaml.safe_load_all(
            (charts.ROOT / "services/capo/release/infrastructure-components.yaml").read_text()
        )
        if doc
    ]

    def upstream(kind: str) -> dict[str, Any]:
        return next(d for d in release if d["kind"] == kind)

    rendered = charts.render("capo-controller-manager")
    deployment = rendered.of_kind("Deployment")[0]
    spec = deployment["spec"]["template"]["spec"]
    manager = next(c for c in spec["containers"] if c["name"] == "manager")
    assert {"name": "webhook-server", "containerPort": 9443, "protocol": "TCP"} in manager["ports"]
    mount = next(m for m in manager["volumeMounts"] if m["name"] == "cert")
    assert mount["mountPath"] == "/tmp/k8s-webhook-server/serving-certs"
    volume = next(v for v in spec["volumes"] if v["name"] == "cert")
    certificate = rendered.of_kind("Certificate")[0]
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    assert certificate["spec"] == upstream("Certificate")["spec"]  # capo-system both
    assert rendered.of_kind("Issuer")[0]["spec"] == upstream("Issuer")["spec"]
    service = rendered.of_kind("Service")[0]
    assert service["spec"]["ports"] == upstream("Service")["spec"]["ports"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    vwc = rendered.of_kind("ValidatingWebhookConfiguration")[0]
    want = upstream("ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"] == want["metadata"]["annotations"]
    assert vwc["webhooks"] == want["webhooks"]
    off = charts.render("capo-controller-manager", {"webhook": {"enabled": False}})
    assert not off.of_kind("ValidatingWebhookConfiguration") and not off.of_kind("Certificate")
    pod = off.of_kind("Deployment")[0]["spec"]["template"]["spec"]
    assert "volumes" not in pod
