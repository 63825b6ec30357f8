"""CAPO's validating webhook rules and the HTTPS AdmissionReview server (no API server).

The rules are checked case by case as CAPO's webhook tests state them; the server is called
over real TLS with v1 and v1beta1 reviews, and a rotated certificate is served without restart.
The kube-apiserver path (CRDs + ValidatingWebhookConfiguration) is test_capo_webhook_admission.
"""

from __future__ import annotations

import copy
import http.client
import json
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from osk8s_capo import webhooks
from osk8s_capo.webhooks_server import WebhookServer, WebhookServerOptions
from osk8s_testing.local import offline_kubeconfig
from osk8s_testing.tls import self_signed_localhost

MACHINE_PATH = "/validate-infrastructure-cluster-x-k8s-io-v1beta2-openstackmachine"
SERVER_PATH = "/validate-infrastructure-cluster-x-k8s-io-v1alpha1-openstackserver"


def machine(**spec: Any) -> dict[str, Any]:
    base = {"flavor": {"filter": {"name": "m1"}}, "image": {"id": "img"}}
    return {"metadata": {"name": "m"}, "spec": {**base, **spec}}


def cluster(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "c"}, "spec": {"identityRef": {"name": "s", "cloudName": "x"},
                                                 **spec}}  # fmt: skip


# -- OpenStackMachine ---------------------------------------------------------------------------


def test_machine_create_rules() -> None:
    ok = machine(rootVolume={"sizeGiB": 10}, additionalBlockDevices=[{"name": "data"}])
    assert webhooks.validate_machine(ok, None) == []
    root = machine(rootVolume={"sizeGiB": 10}, additionalBlockDevices=[{"name": "root"}])
    [err] = webhooks.validate_machine(root, None)
    assert (err.path, err.type) == ("spec.additionalBlockDevices", "Forbidden")
    # without a rootVolume a device may be called root
    assert webhooks.validate_machine(machine(additionalBlockDevices=[{"name": "root"}]), None) == []
    sg = machine(ports=[{"enablePortSecurity": False, "securityGroups": [{"id": "x"}]}])
    assert [e.path for e in webhooks.validate_machine(sg, None)] == ["spec.ports"]


def test_floating_ip_pool_ref_is_refused_on_create_with_a_clear_message() -> None:
    """osk8s has no OpenStackFloatingIPPool controller: the claim would never be answered, so
    the field is refused on every kind that carries it (the bastion's machine spec of an
    OpenStackCluster and its template included) rather than silently ignored."""
    pool = {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "OpenStackFloatingIPPool",
            "name": "pool"}  # fmt: skip
    with_pool = machine(floatingIPPoolRef=pool)
    for validate in (webhooks.validate_machine, webhooks.validate_server):
        [err] = validate(with_pool, None)
        assert (err.path, err.type) == ("spec.floatingIPPoolRef", "Forbidden")
        assert "not supported by osk8s yet" in str(err)
    tmpl = {"metadata": {"name": "t"}, "spec": {"template": {"spec": with_pool["spec"]}}}
    [err] = webhooks.validate_machine_template(tmpl, None)
    assert err.path == "spec.template.spec.floatingIPPoolRef" and "not supported" in err.detail
    assert webhooks.validate_machine(machine(), None) == []
    # the bastion of an OpenStackCluster / its template carries a machine spec too
    bastion = {"enabled": True, "spec": with_pool["spec"]}
    [err] = webhooks.validate_cluster(cluster(bastion=bastion), None)
    assert err.path == "spec.bastion.spec.floatingIPPoolRef" and "not supported" in err.detail
    plain = cluster(bastion={"enabled": True, "spec": machine()["spec"]})
    errs = webhooks.validate_cluster(cluster(bastion=bastion), plain)  # added by an update
    assert "spec.bastion.spec.floatingIPPoolRef" in [e.path for e in errs]
    assert webhooks.validate_cluster(plain, None) == []
    ctmpl = {"metadata": {"name": "c"}, "spec": {"template": {"spec": {"bastion": bastion}}}}
    [err] = webhooks.validate_cluster_template(ctmpl, None)
    assert err.path == "spec.template.spec.bastion.spec.floatingIPPoolRef"


def test_machine_update_rules() -> None:
    old = machine(ports=[{"nameSuffix": "a", "allowedAddressPairs": [{"ipAddress": "10.0.0.9"}]}])
    # providerID may be set once, identityRef and allowedAddressPairs change freely
    new = copy.deepcopy(old)
    new["spec"]["providerID"] = "openstack:///abc"
    new["spec"]["identityRef"] = {"name": "other", "cloudName": "y"}
    new["spec"]["ports"][0]["allowedAddressPairs"] = [{"ipAddress": "10.0.0.10"}]
    assert webhooks.validate_machine(new, old) == []
    changed = copy.deepcopy(new)
    changed["spec"]["providerID"] = "openstack:///other"
    assert [str(e) for e in webhooks.validate_machine(changed, new)] == [
        "spec: Forbidden: cannot be modified"
    ]
    flavor = copy.deepcopy(old)
    flavor["spec"]["flavor"] = {"id": "f2"}
    assert webhooks.validate_machine(flavor, old)
    # an empty list and a missing one are the same object on the wire
    empty = copy.deepcopy(old)
    empty["spec"]["tags"] = []
    assert webhooks.validate_machine(empty, old) == []


def test_machine_template_rules() -> None:
    tmpl = {"metadata": {"name": "t"}, "spec": {"template": {"spec": machine()["spec"]}}}
    assert webhooks.validate_machine_template(tmpl, None) == []
    with_id = copy.deepcopy(tmpl)
    with_id["spec"]["template"]["spec"]["providerID"] = "openstack:///x"
    assert [e.path for e in webhooks.validate_machine_template(with_id, None)] == [
        "spec.template.spec.providerID"
    ]
    changed = copy.deepcopy(tmpl)
    changed["spec"]["template"]["spec"]["sshKeyName"] = "k"
    [err] = webhooks.validate_machine_template(changed, tmpl)
    assert err.type == "Invalid" and "immutable" in err.detail
    # CAPI's topology dry run is not checked
    changed["metadata"]["annotations"] = {webhooks.TOPOLOGY_DRY_RUN: ""}
    assert webhooks.validate_machine_template(changed, tmpl, dry_run=True) == []
    assert webhooks.validate_machine_template(changed, tmpl, dry_run=False)


def test_server_and_cluster_template_are_immutable() -> None:
    server = {"metadata": {"name": "s"}, "spec": {"flavor": "m1", "ports": [{}]}}
    changed = copy.deepcopy(server)
    changed["spec"]["flavor"] = "m2"
    assert [e.detail for e in webhooks.validate_server(changed, server)] == [
        webhooks.SERVER_IMMUTABLE
    ]
    tmpl = {"metadata": {"name": "t"}, "spec": {"template": {"spec": cluster()["spec"]}}}
    other = copy.deepcopy(tmpl)
    other["spec"]["template"]["spec"]["tags"] = ["x"]
    assert webhooks.validate_cluster_template(other, tmpl)
    assert webhooks.validate_cluster_template(copy.deepcopy(tmpl), tmpl) == []


def test_cluster_rules() -> None:
    rule = {"name": "r", "direction": "ingress", "remoteIPPrefix": "0.0.0.0/0",
            "remoteGroupID": "g"}  # fmt: skip
    bad = cluster(managedSecurityGroups={"workerNodesSecurityGroupRules": [rule]})
    assert [e.path for e in webhooks.validate_cluster(bad, None)] == [
        "spec.managedSecurityGroups.workerNodesSecurityGroupRules[0]"
    ]
    old = cluster(
        managedSubnets=[{"cidr": "10.6.0.0/24", "dnsNameservers": ["1.1.1.1"]}],
        managedSecurityGroups={},
        apiServer={"managedLoadBalancer": {"enabled": True}},
        bastion={"enabled": True, "spec": machine()["spec"]},
    )
    old["status"] = {"apiServerManagedLoadBalancer": {"ip": "172.24.4.9"}}
    new = copy.deepcopy(old)
    new["spec"]["managedSubnets"][0]["dnsNameservers"] = ["8.8.8.8"]
    new["spec"]["managedSecurityGroups"]["allowAllInClusterTraffic"] = True
    new["spec"]["apiServer"]["managedLoadBalancer"]["allowedCIDRs"] = ["10.0.0.0/8"]
    new["spec"]["apiServer"]["floatingIP"] = "172.24.4.9"  # equals the LB's: allowed
    new["spec"]["bastion"]["spec"]["sshKeyName"] = "k"
    new["spec"]["controlPlaneEndpoint"] = {"host": "172.24.4.9", "port": 6443}
    new["spec"]["identityRef"]["name"] = "rotated"
    assert webhooks.validate_cluster(new, old) == []

    cidr = copy.deepcopy(old)
    cidr["spec"]["managedSubnets"][0]["cidr"] = "10.7.0.0/24"
    assert "cannot change subnet CIDR" in webhooks.validate_cluster(cidr, old)[0].detail
    removed = copy.deepcopy(old)
    del removed["spec"]["bastion"]
    assert [e.path for e in webhooks.validate_cluster(removed, old)] == ["spec.bastion"]
    disabled = copy.deepcopy(old)
    disabled["spec"]["bastion"] = {"enabled": False}
    assert webhooks.validate_cluster(removed, disabled) == []
    endpoint_set = copy.deepcopy(new)
    endpoint_moved = copy.deepcopy(new)
    endpoint_moved["spec"]["controlPlaneEndpoint"]["host"] = "172.24.4.10"
    assert [str(e) for e in webhooks.validate_cluster(endpoint_moved, endpoint_set)] == [
        "spec: Forbidden: cannot be modified"
    ]


def test_cluster_network_filter_to_resolved_id() -> None:
    old = cluster(network={"filter": {"name": "net"}}, subnets=[{"filter": {"name": "sub"}}])
    old["status"] = {"network": {"id": "n1", "subnets": [{"id": "s1", "name": "sub"}]}}
    new = copy.deepcopy(old)
    new["spec"]["network"] = {"id": "n1"}
    new["spec"]["subnets"] = [{"id": "s1"}]
    assert webhooks.validate_cluster(new, old) == []
    wrong = copy.deepcopy(new)
    wrong["spec"]["subnets"] = [{"id": "s2"}]
    assert webhooks.validate_cluster(wrong, old)


def test_invalid_status_wording() -> None:
    errs = [webhooks.forbidden("spec", "cannot be modified")]
    status = webhooks.invalid_status("OpenStackMachine", "m", errs)
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'OpenStackMachine.infrastructure.cluster.x-k8s.io "m" is invalid: '
        "spec: Forbidden: cannot be modified"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: cannot be modified",
            "field": "spec",
        }
    ]
    two = webhooks.invalid_status("X", "n", errs * 2)
    assert two["message"].endswith("[spec: Forbidden: cannot be modified, spec: Forbidden: "
                                   "cannot be modified]")  # fmt: skip


# -- the HTTPS server ---------------------------------------------------------------------------


def post(port: int, ca: str, path: str, body: Any) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    try:
        raw = json.dumps(body).encode()
        conn.request("POST", path, raw, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data


@pytest.fixture
def served(tmp_path: Path) -> Any:
    self_signed_localhost(tmp_path)
    options = WebhookServerOptions(cert_dir=str(tmp_path), port=0, host="127.0.0.1")
    with WebhookServer(options) as server:
        yield server, tmp_path


def review(version: str, operation: str, obj: Any, old: Any = None) -> dict[str, Any]:
    return {"apiVersion": f"admission.k8s.io/{version}", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "operation": operation, "object": obj,
                        "oldObject": old, "name": "m"}}  # fmt: skip


def test_server_answers_reviews_over_tls(served: Any) -> None:
    server, certs = served
    port, ca = server.address[1], str(certs / "tls.crt")
    assert server.started
    status, body = post(port, ca, MACHINE_PATH, review("v1", "CREATE", machine()))
    assert status == 200 and body["response"] == {"uid": "u-1", "allowed": True}
    assert body["apiVersion"] == "admission.k8s.io/v1"
    old = machine()
    new = machine(sshKeyName="changed")
    status, body = post(port, ca, MACHINE_PATH, review("v1", "UPDATE", new, old))
    assert body["response"]["allowed"] is False
    assert body["response"]["status"]["message"].endswith("spec: Forbidden: cannot be modified")
    # CAPO declares v1beta1 for the OpenStackServer webhook: answered in that version
    server_obj = {"metadata": {"name": "s"}, "spec": {"ports": [{}]}}
    status, body = post(port, ca, SERVER_PATH, review("v1beta1", "CREATE", server_obj))
    assert body["apiVersion"] == "admission.k8s.io/v1beta1" and body["response"]["allowed"]
    # deletes are always allowed; unknown paths are 404; garbage is 400
    status, body = post(port, ca, MACHINE_PATH, review("v1", "DELETE", None, old))
    assert body["response"]["allowed"] is True
    assert post(port, ca, "/nope", review("v1", "CREATE", old))[0] == 404
    assert post(port, ca, MACHINE_PATH, ["x"])[0] == 400


def test_rotated_certificate_is_served_without_restart(served: Any, tmp_path: Path) -> None:
    server, certs = served
    first = (certs / "tls.crt").read_text()
    time.sleep(0.01)  # a new mtime
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    self_signed_localhost(rotated)
    (certs / "tls.key").write_bytes((rotated / "tls.key").read_bytes())
    (certs / "tls.crt").write_bytes((rotated / "tls.crt").read_bytes())
    assert (certs / "tls.crt").read_text() != first
    status, _ = post(server.address[1], str(rotated / "tls.crt"), MACHINE_PATH,
                     review("v1", "CREATE", machine()))  # fmt: skip
    assert status == 200
    # the old certificate is no longer trusted by a client pinned to it
    old_ca = tmp_path / "old.crt"
    old_ca.write_text(first)
    with pytest.raises(ssl.SSLError):
        post(server.address[1], str(old_ca), MACHINE_PATH, review("v1", "CREATE", machine()))


def test_runnable_waits_for_the_certificate_then_serves(tmp_path: Path) -> None:
    """cert-manager may mount the Secret after the pod starts: the manager's runnable keeps
    trying instead of failing, and serves once tls.crt/tls.key are there."""
    import socket
    import threading

    from osk8s_capo.webhooks_server import runnable

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()
    thread = threading.Thread(
        target=runnable(str(tmp_path), port, retry_interval=0.1), args=(stop,)
    )
    thread.start()
    try:
        time.sleep(0.3)
        with pytest.raises(OSError):
            post(port, __file__, MACHINE_PATH, review("v1", "CREATE", machine()))
        self_signed_localhost(tmp_path)
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = post(
                    port, str(tmp_path / "tls.crt"), MACHINE_PATH, review("v1", "CREATE", machine())
                )
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 200
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_manager_serves_the_webhooks_on_its_flags(tmp_path: Path) -> None:
    """``capo-controller-manager --webhook-port --webhook-cert-dir`` as ``app.run`` builds it:
    the manager carries the webhook server among its runnables and it answers reviews with the
    mounted certificate (an immutable-field edit denied) on the flag's port."""
    import socket
    import threading

    from osk8s_capo import app
    from osk8s_capo.cli import build_parser

    certs = tmp_path / "serving-certs"
    certs.mkdir()
    self_signed_localhost(certs)
    kubeconfig = offline_kubeconfig(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = build_parser().parse_args(
        [f"--kubeconfig={kubeconfig}", f"--webhook-port={port}", f"--webhook-cert-dir={certs}"]
    )
    manager = app.build(args, environ={})
    runnables = dict(manager._runnables)  # the manager's own list: what run() starts
    stop = threading.Event()
    thread = threading.Thread(target=runnables["webhook-server"], args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        update = review("v1", "UPDATE", machine(sshKeyName="changed"), machine())
        while True:
            try:
                status, body = post(port, str(certs / "tls.crt"), MACHINE_PATH, update)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 200 and body["response"]["allowed"] is False
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
