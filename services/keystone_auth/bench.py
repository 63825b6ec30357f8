"""Benchmark: TokenReview throughput and p99 with a warm token cache, vs a Flask hello-world.

Both apps run on the same stack (cheroot + TLS, same thread count) on 127.0.0.1; a fake
Keystone on 127.0.0.1 counts the calls the webhook makes. Load comes from client threads with
keep-alive HTTPS sessions in this process, so absolute numbers include the client's own cost;
the ratio (webhook / hello-world) is the figure to compare. Usage:

    .venv/bin/python services/keystone_auth/bench.py [--seconds 5] [--clients 4] [--tokens 20]

Prints one JSON document. Target (issue 7): ratio >= 0.5 and 0 Keystone calls within the TTL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from osk8s_core.logging import configure_logging, get_logger
from osk8s_keystone_auth.options import ServerOptions
from osk8s_keystone_auth.server import ServeOptions, WebhookServer
from osk8s_keystone_auth.service import build
from osk8s_testing.tls import self_signed_localhost


def self_signed(directory: Path) -> tuple[str, str]:
    tls = self_signed_localhost(directory)
    return tls.cert, tls.key


@dataclass
class FakeKeystone:
    """Answers token validation for any token ``tok-<n>``; counts requests."""

    calls: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        keystone = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                keystone.calls += 1
                expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                path = self.path.split("?")[0]
                if path in ("/", "/v3", "/v3/"):  # version discovery, once per webhook
                    host = self.headers.get("Host")
                    link = {"rel": "self", "href": f"http://{host}/v3/"}
                    body: dict[str, Any] = {
                        "version": {"id": "v3.14", "status": "stable", "links": [link]}
                    }
                elif path.endswith("/groups"):
                    body = {"groups": [{"id": "g1", "name": "devs"}]}
                else:
                    body = {
                        "token": {
                            "user": {
                                "id": "u1",
                                "name": "alice",
                                "domain": {"id": "default", "name": "Default"},
                            },
                            "project": {"id": "p1", "name": "demo"},
                            "roles": [{"id": "r1", "name": "member"}],
                            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                        }
                    }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        return Handler


def load(
    url: str, *, cert: str, seconds: float, clients: int, body: Callable[[int], dict[str, Any]]
) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        i = index
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            # verify per request: a session-level verify loses to REQUESTS_CA_BUNDLE in requests.
            response = session.post(url, json=body(i), verify=cert, timeout=30)
            latencies[index].append(time.perf_counter() - start)
            if response.status_code != 200:
                errors[index] += 1
            i += clients
        session.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for part in latencies for x in part)
    return {
        "requests": len(flat),
        "errors": sum(errors),
        "per_second": round(len(flat) / elapsed, 1),
        "p50_ms": round(statistics.median(flat) * 1000, 2),
        "p99_ms": round(flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16, help="server worker threads")
    parser.add_argument("--tokens", type=int, default=20, help="distinct tokens reviewed")
    args = parser.parse_args()
    configure_logging(fmt="console", verbosity=0)

    keystone = FakeKeystone()
    ks_server = ThreadingHTTPServer(("127.0.0.1", 0), keystone.handler())
    ks_server.daemon_threads = True
    threading.Thread(target=ks_server.serve_forever, args=(0.05,), daemon=True).start()

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        options = ServerOptions(
            listen="127.0.0.1:0",
            tls_cert_file=cert,
            tls_private_key_file=key,
            keystone_url=f"http://127.0.0.1:{ks_server.server_address[1]}/v3",
            keystone_ca_file="",
            keystone_policy_file="",
            policy_configmap_name="",
            sync_config_file="",
            sync_configmap_name="",
            kubeconfig="",
            user_agent=("bench",),
            token_cache_ttl=600.0,
            token_cache_size=10000,
            threads=args.threads,
            verbosity=0,
            log_format="console",
        )
        hook = build(options, logger=get_logger("bench"), environ={}).start()
        host, port = hook.server.address
        review_url = f"https://{host}:{port}/webhook"

        def review(i: int) -> dict[str, Any]:
            token = f"tok-{i % args.tokens}"
            return {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            }

        # Warm the cache: one review per token.
        session = requests.Session()
        for i in range(args.tokens):
            session.post(review_url, json=review(i), verify=cert, timeout=30).raise_for_status()
        warm_calls = keystone.calls
        webhook = load(
            review_url, cert=cert, seconds=args.seconds, clients=args.clients, body=review
        )
        calls_within_ttl = keystone.calls - warm_calls
        hook.stop()

        hello = Flask("hello")
        hello.add_url_rule("/", "hello", lambda: "hello", methods=["POST"])
        server = WebhookServer(
            hello,
            options=ServeOptions(
                host="127.0.0.1", port=0, cert_file=cert, key_file=key, threads=args.threads
            ),
        ).start()
        h_host, h_port = server.address
        baseline = load(
            f"https://{h_host}:{h_port}/",
            cert=cert,
            seconds=args.seconds,
            clients=args.clients,
            body=review,
        )
        server.stop()
    ks_server.shutdown()

    result = {
        "stack": f"cheroot+TLS, {args.threads} server threads, {args.clients} client threads",
        "token_review_warm_cache": webhook,
        "hello_world": baseline,
        "ratio": round(webhook["per_second"] / baseline["per_second"], 2),
        "keystone_calls_warmup": warm_calls,
        "keystone_calls_within_ttl": calls_within_ttl,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
