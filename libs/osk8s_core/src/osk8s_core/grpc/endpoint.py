"""gRPC listen endpoints: parse the ``--endpoint`` flag and prepare a unix socket path.

Accepts what CPO and the CSI sidecars accept (``unix:///abs``, ``unix://rel/or/abs``,
``unix:/abs``, bare ``/abs``, ``tcp://host:port``); anything else is a ConfigError. Preparing a
unix socket removes a stale *socket* and creates the parent directory; it never deletes anything
that is not a socket. This module does not bind or listen (see ``server``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from osk8s_core.errors import ConfigError

Scheme = Literal["unix", "tcp"]

_EXPECTED = "unix:///abs/path, unix://path, unix:/abs/path, /abs/path or tcp://host:port"
# Created only when missing; group may traverse so a sidecar in the same group can reach it.
_PARENT_DIR_MODE = 0o750


@dataclass(frozen=True)
class Endpoint:
    """A parsed listen endpoint."""

    scheme: Scheme
    """``unix`` or ``tcp``."""
    path: str = ""
    """Unix socket path as given (may be relative to the working directory, CPO style)."""
    host: str = ""
    """TCP host; empty means every interface."""
    port: int = 0
    """TCP port; 0 lets the kernel choose (tests)."""

    @property
    def grpc_address(self) -> str:
        """The address string ``grpc.Server.add_insecure_port`` understands."""
        if self.scheme == "unix":
            # gRPC: "unix:relative" and "unix:///absolute".
            return f"unix://{self.path}" if self.path.startswith("/") else f"unix:{self.path}"
        host = self.host or "[::]"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"tcp://{self.grpc_address}"


def parse_endpoint(value: str) -> Endpoint:
    """Parse an ``--endpoint`` value; raise ConfigError naming the accepted forms otherwise."""
    text = value.strip()
    if "\x00" in text:
        raise _invalid(value, "contains a NUL byte")
    lowered = text.lower()
    if lowered.startswith("unix://"):
        return _unix(value, text[len("unix://") :])
    if lowered.startswith("unix:/"):
        return _unix(value, text[len("unix:") :])
    if lowered.startswith("tcp://"):
        return _tcp(value, text[len("tcp://") :])
    if text.startswith("/"):
        return _unix(value, text)
    raise _invalid(value, "unsupported scheme or relative path without a scheme")


def _unix(raw: str, path: str) -> Endpoint:
    if not path or path.endswith("/"):
        raise _invalid(raw, "the socket path is empty or names a directory")
    return Endpoint(scheme="unix", path=path)


def _tcp(raw: str, rest: str) -> Endpoint:
    host, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit():
        raise _invalid(raw, "a tcp endpoint needs a numeric port")
    port = int(port_text)
    if port > 65535:
        raise _invalid(raw, "the port is out of range")
    if host.startswith("[") != host.endswith("]") or "/" in host:
        raise _invalid(raw, "the host is malformed")
    return Endpoint(scheme="tcp", host=host.strip("[]"), port=port)


def _invalid(raw: str, why: str) -> ConfigError:
    return ConfigError(f"invalid endpoint {raw!r}: {why}", key="endpoint", expected=_EXPECTED)


def prepare_unix_socket(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` ready to bind: parent created, a stale socket removed.

    Matches CPO: a leftover socket from a previous run is removed. Unlike a blind ``rm``, a
    regular file, directory or symlink at that path is refused, so a typo in ``--endpoint``
    cannot delete data.
    """
    sock = Path(path)
    try:
        st = os.lstat(sock)
    except FileNotFoundError:
        sock.parent.mkdir(mode=_PARENT_DIR_MODE, parents=True, exist_ok=True)
        return sock
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(
            f"refusing to replace {sock}: it exists and is not a unix socket",
            key="endpoint",
            expected="a path that is free or holds a stale socket",
        )
    sock.unlink()
    return sock


def apply_socket_mode(path: str | os.PathLike[str], mode: int) -> None:
    """Set the permission bits of a bound socket (0600 by default in ``ServerOptions``)."""
    os.chmod(path, mode)
