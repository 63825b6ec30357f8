"""Credentials to an openstacksdk ``Connection``: method choice, TLS wiring, cache, rotation.

``select_method``/``build_auth_plugin`` check completeness before any Keystone call;
``build_connection`` wires session, TLS and user agent; ``ConnectionCache`` caches per
credential set; ``ConnectionFactory`` follows cloud.conf files for rotation without restart.
"""

from osk8s_core.credentials.connection import ClientSettings, build_connection, build_session
from osk8s_core.credentials.factory import ConnectionCache, ConnectionFactory, CredentialKey
from osk8s_core.credentials.methods import (
    AuthMethod,
    build_auth_plugin,
    keystone_v3_url,
    select_method,
)
from osk8s_core.credentials.tls import CaFileStore

__all__ = [
    "AuthMethod",
    "CaFileStore",
    "ClientSettings",
    "ConnectionCache",
    "ConnectionFactory",
    "CredentialKey",
    "build_auth_plugin",
    "build_connection",
    "build_session",
    "keystone_v3_url",
    "select_method",
]
