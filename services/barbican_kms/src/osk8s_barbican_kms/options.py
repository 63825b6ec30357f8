"""The plugin's settings, parsed once from the command line into a frozen dataclass.

Flags keep CPO's spelling (``--socketpath``, ``--cloud-config``); the rest are ours. Values
are checked here so a bad flag fails before any socket or Barbican call. No file is read
here: cloud.conf is the config loader's job.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Final

from osk8s_core.cli import LogFlags, log_flags
from osk8s_core.config.values import ExpectedError, parse_duration
from osk8s_core.errors import ConfigError

DEFAULT_SOCKET: Final = "/var/lib/kms/kms.sock"


@dataclass(frozen=True)
class HttpEndpoint:
    host: str
    """Empty means every interface (Go's ``:8080``)."""
    port: int


@dataclass(frozen=True)
class KmsOptions:
    socket_path: str
    """``--socketpath``: unix socket kube-apiserver connects to (mode 0600, stale one removed)."""
    cloud_config: str
    """``--cloud-config``: INI with ``[Global]`` auth and ``[KeyManager] key-id``."""
    http_endpoint: HttpEndpoint | None = None
    """``--http-endpoint``: ``/metrics``, ``/healthz`` and ``/readyz``; None serves none."""
    key_refresh_interval: float = 300.0
    """``--key-refresh-interval`` (seconds): re-read config and re-fetch keys this often."""
    openstack_timeout: float = 10.0
    """HTTP timeout (seconds) of each Keystone/Barbican request."""
    max_workers: int = 4
    """Handler threads. Handlers never block (keys are in memory), so more threads only fight
    over the GIL: 4 gave ~25% less CPU per call than 16 at the same throughput."""
    verbosity: int = 2
    log_format: str = "json"
    log: LogFlags | None = None
    """klog's flags (``-v``, ``--vmodule``, ``--log-file``...); None uses the two above."""


def parse_http_endpoint(value: str) -> HttpEndpoint | None:
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f"invalid --http-endpoint {value!r}", key="http-endpoint", expected="host:port or :port"
        )
    return HttpEndpoint(host=host.strip("[]"), port=int(port))


def _seconds(value: str, flag: str) -> float:
    try:
        seconds = parse_duration(value).total_seconds()
    except ExpectedError as exc:
        raise ConfigError(f"invalid {flag} {value!r}", key=flag, expected=str(exc)) from None
    if seconds <= 0:
        raise ConfigError(f"invalid {flag} {value!r}", key=flag, expected="a positive duration")
    return seconds


def from_args(args: argparse.Namespace) -> KmsOptions:
    if not args.socketpath:
        raise ConfigError("--socketpath is required", key="socketpath", expected="a path")
    if not args.cloud_config:
        raise ConfigError("--cloud-config is required", key="cloud-config", expected="a path")
    return KmsOptions(
        socket_path=args.socketpath,
        cloud_config=args.cloud_config,
        http_endpoint=parse_http_endpoint(args.http_endpoint),
        key_refresh_interval=_seconds(args.key_refresh_interval, "key-refresh-interval"),
        verbosity=args.verbosity,
        log_format=args.log_format,
        log=log_flags(args),
    )
