"""Flags of ``k8s-keystone-auth`` with CPO's spelling and env defaults, parsed once.

Env defaults are resolved after parsing (flag > env > default), so ``--help`` never prints an
environment value. ``ServerOptions.from_args`` is the one reader of the environment for the
webhook; the rest of the service gets the frozen result. Import-light: no heavy library here.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from osk8s_core import cli
from osk8s_core.errors import ConfigError

SERVER_PROG = "k8s-keystone-auth"

# flag -> (env var, default); matches CPO's NewConfig() (sync-configmap-name's env is honoured:
# CPO's flag default silently drops it).
SERVER_ENV: dict[str, tuple[str, str]] = {
    "listen": ("", "0.0.0.0:8443"),
    "tls_cert_file": ("TLS_CERT_FILE", ""),
    "tls_private_key_file": ("TLS_PRIVATE_KEY_FILE", ""),
    "keystone_url": ("OS_AUTH_URL", ""),
    "keystone_ca_file": ("KEYSTONE_CA_FILE", ""),
    "keystone_policy_file": ("KEYSTONE_POLICY_FILE", ""),
    "policy_configmap_name": ("KEYSTONE_POLICY_CONFIGMAP_NAME", ""),
    "sync_config_file": ("KEYSTONE_SYNC_CONFIG_FILE", ""),
    "sync_configmap_name": ("KEYSTONE_SYNC_CONFIGMAP_NAME", ""),
    "kubeconfig": ("KEYSTONE_KUBECONFIG_FILE", ""),
}


def build_server_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(SERVER_PROG, "Keystone authn/authz webhook for Kubernetes (osk8s).")
    add = parser.add_argument
    add("--listen", default=None, help="<address>:<port> to listen on (default 0.0.0.0:8443)")
    add("--tls-cert-file", default=None, help="x509 certificate for HTTPS (env TLS_CERT_FILE)")
    add(
        "--tls-private-key-file",
        default=None,
        help="private key matching --tls-cert-file (env TLS_PRIVATE_KEY_FILE)",
    )
    add("--keystone-url", default=None, help="URL of the Keystone API (env OS_AUTH_URL)")
    add("--keystone-ca-file", default=None, help="CA bundle for Keystone (env KEYSTONE_CA_FILE)")
    add(
        "--keystone-policy-file",
        default=None,
        help="JSON policy file; wins over the policy ConfigMap at start (env KEYSTONE_POLICY_FILE)",
    )
    add(
        "--policy-configmap-name",
        default=None,
        help="ConfigMap in kube-system with key 'policies', hot-reloaded "
        "(env KEYSTONE_POLICY_CONFIGMAP_NAME)",
    )
    add(
        "--sync-config-file",
        default=None,
        help="YAML sync config file (env KEYSTONE_SYNC_CONFIG_FILE)",
    )
    add(
        "--sync-configmap-name",
        default=None,
        help="ConfigMap in kube-system with key 'syncConfig', hot-reloaded "
        "(env KEYSTONE_SYNC_CONFIGMAP_NAME)",
    )
    add(
        "--kubeconfig",
        default=None,
        help="kubeconfig for ConfigMaps and sync; in-cluster if empty "
        "(env KEYSTONE_KUBECONFIG_FILE)",
    )
    cli.add_string_array(
        parser, "--user-agent", help="extra User-Agent word for Keystone calls; repeatable"
    )
    add(
        "--token-cache-ttl",
        type=float,
        default=60.0,
        help="seconds a validated token is trusted without asking Keystone again; 0 disables "
        "(never beyond the token's expiry)",
    )
    add("--token-cache-size", type=int, default=10000, help="tokens kept in the cache at most")
    add("--threads", type=int, default=16, help="worker threads serving reviews")
    return parser


@dataclass(frozen=True)
class ServerOptions:
    listen: str
    tls_cert_file: str
    tls_private_key_file: str
    keystone_url: str
    keystone_ca_file: str
    keystone_policy_file: str
    policy_configmap_name: str
    sync_config_file: str
    sync_configmap_name: str
    kubeconfig: str
    user_agent: tuple[str, ...]
    token_cache_ttl: float
    token_cache_size: int
    threads: int
    verbosity: int
    log_format: str

    @property
    def needs_kubernetes(self) -> bool:
        """CPO builds a Kubernetes client when a ConfigMap or a sync config is named."""
        return bool(self.policy_configmap_name or self.sync_configmap_name or self.sync_config_file)

    @classmethod
    def from_args(cls, ns: argparse.Namespace, environ: Mapping[str, str]) -> ServerOptions:
        values = {}
        for attr, (env, default) in SERVER_ENV.items():
            given = getattr(ns, attr)
            values[attr] = (
                given if given is not None else environ.get(env, default) if env else default
            )
        options = cls(
            **values,
            user_agent=tuple(ns.user_agent),
            token_cache_ttl=ns.token_cache_ttl,
            token_cache_size=ns.token_cache_size,
            threads=ns.threads,
            verbosity=ns.verbosity,
            log_format=ns.log_format,
        )
        options.validate()
        return options

    def validate(self) -> None:
        """Matches CPO's ValidateFlags: Keystone URL and the TLS pair are required."""
        problems = []
        if not self.keystone_url:
            problems.append("specify --keystone-url or set OS_AUTH_URL")
        if not self.tls_cert_file or not self.tls_private_key_file:
            problems.append("specify --tls-cert-file and --tls-private-key-file")
        if self.token_cache_ttl < 0 or self.token_cache_size < 0 or self.threads < 1:
            problems.append("--token-cache-ttl/--token-cache-size >= 0 and --threads >= 1")
        if problems:
            raise ConfigError("; ".join(problems), expected="valid k8s-keystone-auth flags")
