"""Entry points of ``k8s-keystone-auth`` (webhook) and ``client-keystone-auth`` (exec plugin).

Both parse upstream-compatible flags; the service logic has not landed yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from osk8s_core import cli

SERVER_PROG = "k8s-keystone-auth"
CLIENT_PROG = "client-keystone-auth"


def build_server_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(SERVER_PROG, "Keystone authn/authz webhook for Kubernetes (osk8s).")
    parser.add_argument("--listen", default="127.0.0.1:8443", help="address:port to serve on")
    parser.add_argument("--tls-cert-file", default="", help="serving certificate")
    parser.add_argument("--tls-private-key-file", default="", help="serving key")
    parser.add_argument("--keystone-url", default="", help="Keystone URL (env OS_AUTH_URL)")
    parser.add_argument("--keystone-ca-file", default="", help="CA for Keystone")
    parser.add_argument("--keystone-policy-file", default="", help="authorization policy JSON")
    parser.add_argument("--policy-configmap-name", default="", help="ConfigMap with policies")
    parser.add_argument("--sync-config-file", default="", help="sync config YAML")
    parser.add_argument("--sync-configmap-name", default="", help="ConfigMap with syncConfig")
    parser.add_argument("--kubeconfig", default="", help="kubeconfig for ConfigMaps and sync")
    return parser


def build_client_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(CLIENT_PROG, "kubectl exec credential plugin for Keystone (osk8s).")
    parser.add_argument("--keystone-url", default="", help="Keystone URL (env OS_AUTH_URL)")
    parser.add_argument("--domain-name", default="", help="env OS_DOMAIN_NAME")
    parser.add_argument("--user-name", default="", help="env OS_USERNAME")
    parser.add_argument("--password", default="", help="env OS_PASSWORD")
    parser.add_argument("--project-name", default="", help="env OS_PROJECT_NAME")
    parser.add_argument("--application-credential-id", default="", help="app credential id")
    parser.add_argument("--application-credential-name", default="", help="app credential name")
    parser.add_argument("--application-credential-secret", default="", help="app cred secret")
    parser.add_argument("--cacert", default="", help="CA file for Keystone")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_server_parser().parse_args(argv)
    return cli.not_implemented(SERVER_PROG)


def client_main(argv: Sequence[str] | None = None) -> int:
    build_client_parser().parse_args(argv)
    return cli.not_implemented(CLIENT_PROG)
