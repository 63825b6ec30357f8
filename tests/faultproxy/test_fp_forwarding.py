"""The proxy forwards faithfully when no rule fires: method, path, query, headers, body, status,
streaming (a chunked watch-like stream passes chunk by chunk), compressed bytes untouched."""

from __future__ import annotations

import gzip
import socket
import time

import requests
from fp_upstream import Upstream

from osk8s_testing.faultproxy import FaultProxy
from osk8s_testing.faultproxy.fixtures import FaultProxyFactory


def test_get_passes_path_query_headers_and_sets_host(proxy: FaultProxy, upstream: Upstream) -> None:
    r = requests.get(
        f"{proxy.url}/echo/a%2Fb/c?x=1&x=2&y=z",
        headers={"X-Auth-Token": "tok", "OpenStack-API-Version": "volume 3.64"},
        timeout=5,
    )
    assert r.status_code == 200
    echo = r.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/echo/a%2Fb/c"  # encoding kept byte for byte
    assert echo["query"] == {"x": ["1", "2"], "y": ["z"]}
    assert echo["headers"]["x-auth-token"] == "tok"
    assert echo["headers"]["openstack-api-version"] == "volume 3.64"
    assert echo["headers"]["host"] == upstream.url.removeprefix("http://")
    assert upstream.hits == 1
    [call] = proxy.calls.all()
    assert (call.method, call.path, call.query, call.status) == (
        "GET",
        "/echo/a%2Fb/c",
        "x=1&x=2&y=z",
        200,
    )
    assert call.forwarded


def test_post_body_and_upstream_status_pass_through(proxy: FaultProxy, upstream: Upstream) -> None:
    r = requests.post(f"{proxy.url}/echo", json={"volume": {"size": 1}}, timeout=5)
    assert r.json()["body"] == '{"volume": {"size": 1}}'
    assert r.json()["headers"]["content-type"] == "application/json"
    r = requests.delete(f"{proxy.url}/status/404", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"upstream": True}
    assert [c.status for c in proxy.calls.all()] == [200, 404]


def test_chunked_stream_passes_through_chunk_by_chunk(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=5) as r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        lines = r.iter_lines()
        assert next(lines) == b'{"type": "ADDED"}'
        # The upstream sends the next event only now: a buffering proxy would yield TIMEOUT.
        upstream.release.set()
        assert next(lines) == b'{"type": "MODIFIED"}'
        assert list(lines) == []


def test_compressed_body_is_not_decompressed(proxy: FaultProxy) -> None:
    with requests.get(f"{proxy.url}/gzip", stream=True, timeout=5) as r:
        raw = r.raw.read(decode_content=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == b'{"zipped": true}'


def test_redirect_is_not_followed_by_the_proxy(proxy: FaultProxy, upstream: Upstream) -> None:
    r = requests.get(f"{proxy.url}/redirect", allow_redirects=False, timeout=5)
    assert r.status_code == 302
    assert r.headers["Location"] == upstream.url + "/echo/after-redirect"


def test_unreachable_upstream_answers_502(fault_proxy: FaultProxyFactory) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = fault_proxy(f"http://127.0.0.1:{port}")
    r = requests.get(f"{dead.url}/x", timeout=5)
    assert r.status_code == 502
    assert "upstream unreachable" in r.json()["error"]["message"]
    assert [c.status for c in dead.calls.all()] == [502]


def test_client_leaving_a_stream_does_not_break_the_proxy(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=5) as r:
        assert next(r.iter_lines()) == b'{"type": "ADDED"}'
    # the client hung up mid-stream; the proxy still serves the next call
    assert requests.get(f"{proxy.url}/echo", timeout=5).status_code == 200
    assert [c.status for c in proxy.calls.all()] == [200, 200]


def test_stop_does_not_wait_for_an_open_stream(proxy: FaultProxy) -> None:
    with requests.get(f"{proxy.url}/stream", stream=True, timeout=5) as r:
        assert next(r.iter_lines()) == b'{"type": "ADDED"}'
        start = time.monotonic()
        proxy.stop()
        assert time.monotonic() - start < 10  # the upstream would hold it 30 s


def test_head_keeps_the_upstream_content_length(proxy: FaultProxy, upstream: Upstream) -> None:
    session = requests.Session()
    r = session.head(f"{proxy.url}/v2/images/x/file", timeout=5)
    assert (r.status_code, r.headers["Content-Length"], r.content) == (200, "1234", b"")
    # the connection is still usable after a body-less answer
    assert session.get(f"{proxy.url}/echo", timeout=5).status_code == 200
