"""Client factory: config source order, --master override, in-cluster, QPS/burst limiting."""

from __future__ import annotations

import http.server
import threading

import pytest
import yaml

from osk8s_core.errors import ConfigError
from osk8s_core.k8s.client import KubeClientOptions, build_api_client, describe


def write_kubeconfig(path, server, token="tok-123", context="ctx"):
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return str(path)


def test_kubeconfig_flag_wins_over_env(tmp_path):
    flag = write_kubeconfig(tmp_path / "flag", "http://127.0.0.1:1111")
    env = write_kubeconfig(tmp_path / "env", "http://127.0.0.1:2222")
    client = build_api_client(KubeClientOptions(kubeconfig=flag), environ={"KUBECONFIG": env})
    assert client.configuration.host == "http://127.0.0.1:1111"
    assert client.configuration.get_api_key_with_prefix("BearerToken").endswith("tok-123")
    assert client.source == f"kubeconfig {flag}"


def test_kubeconfig_env_is_used_without_flag(tmp_path):
    env = write_kubeconfig(tmp_path / "env", "http://127.0.0.1:2222")
    client = build_api_client(KubeClientOptions(), environ={"KUBECONFIG": env})
    assert client.configuration.host == "http://127.0.0.1:2222"


def test_kubeconfig_beats_in_cluster(tmp_path):
    env = write_kubeconfig(tmp_path / "env", "http://127.0.0.1:2222")
    environ = {"KUBECONFIG": env, "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    environ["KUBERNETES_SERVICE_PORT"] = "443"
    client = build_api_client(KubeClientOptions(), environ=environ)
    assert client.configuration.host == "http://127.0.0.1:2222"


def test_master_overrides_the_kubeconfig_server(tmp_path):
    path = write_kubeconfig(tmp_path / "k", "http://127.0.0.1:1111")
    options = KubeClientOptions(kubeconfig=path, master="http://127.0.0.1:3333/")
    client = build_api_client(options, environ={})
    assert client.configuration.host == "http://127.0.0.1:3333"
    assert client.configuration.get_api_key_with_prefix("BearerToken").endswith("tok-123")


def test_master_alone_is_enough():
    client = build_api_client(KubeClientOptions(master="http://127.0.0.1:4444"), environ={})
    assert client.configuration.host == "http://127.0.0.1:4444"
    assert client.source == "master URL only"


def test_in_cluster_service_account(tmp_path):
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("not really a CA")
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    options = KubeClientOptions(service_account_dir=str(tmp_path))
    client = build_api_client(options, environ=environ)
    assert client.configuration.host == "https://127.0.0.1:6443"
    assert client.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    assert client.configuration.get_api_key_with_prefix("BearerToken").endswith("sa-token")
    assert client.source == "in-cluster service account"


def test_no_source_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        build_api_client(KubeClientOptions(), environ={})
    assert "--kubeconfig" in str(info.value)


def test_broken_kubeconfig_names_the_file(tmp_path):
    path = tmp_path / "bad"
    path.write_text("current-context: nope\n")
    with pytest.raises(ConfigError) as info:
        build_api_client(KubeClientOptions(kubeconfig=str(path)), environ={})
    assert info.value.file == str(path)


def test_describe_shows_limits_but_no_token(tmp_path):
    path = write_kubeconfig(tmp_path / "k", "http://127.0.0.1:1111", token="very-secret")
    client = build_api_client(KubeClientOptions(kubeconfig=path, qps=20, burst=30), environ={})
    facts = describe(client)
    assert facts["qps"] == 20 and facts["burst"] == 30
    assert "very-secret" not in repr(facts)


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def ok_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_pass_through_the_token_bucket(ok_server, clock):
    options = KubeClientOptions(master=ok_server, qps=2, burst=1, user_agent="osk8s-test/1")
    client = build_api_client(options, environ={}, clock=clock)
    for _ in range(3):
        response = client.call_api("GET", f"{ok_server}/version")
        assert response.status == 200
    assert clock.waited == [pytest.approx(0.5), pytest.approx(0.5)]
    assert client.user_agent == "osk8s-test/1"


def test_qps_zero_disables_limiting(ok_server, clock):
    client = build_api_client(KubeClientOptions(master=ok_server, qps=0), environ={}, clock=clock)
    for _ in range(5):
        client.call_api("GET", f"{ok_server}/version")
    assert clock.waited == []
