"""``client-keystone-auth``: get a Keystone token and print it as an ExecCredential.

Credentials: flags/env; on a terminal (and when kubectl allows interaction) missing fields are
prompted for on stderr, the password hidden; otherwise incomplete flags fall back to the
standard ``OS_*`` variables. A token cached on disk is reused until a minute before expiry.
Bad credentials (401) print an empty ExecCredential and exit 0, as CPO. Secrets never reach
stderr or logs.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from osk8s_core import errors
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.client_cache import TokenFileCache, cache_key
from osk8s_keystone_auth.client_options import ClientOptions, default_cache_dir
from osk8s_keystone_auth.exec_credential import exec_credential, parse_exec_info

TokenIssuer = Callable[[ClientOptions], tuple[SecretStr, datetime]]
ReadSecret = Callable[[str], str]


def keystone_issuer(options: ClientOptions) -> tuple[SecretStr, datetime]:
    """Log in to Keystone with the core's auth plugins (password or application credential)."""
    from osk8s_core.config.auth import AuthOptions  # noqa: PLC0415 - keep --help light
    from osk8s_core.credentials import CaFileStore, ClientSettings, build_session  # noqa: PLC0415
    from osk8s_core.openstack.errors import translate_errors  # noqa: PLC0415
    from osk8s_keystone_auth.client_options import CLIENT_PROG  # noqa: PLC0415

    use_app = options.uses_application_credential
    auth = AuthOptions(
        auth_url=options.keystone_url,
        username=options.user_name or None,
        user_id=options.user_id or None,
        password=None if use_app else options.password,
        project_name=None if use_app else options.project_name or None,
        project_id=None if use_app else options.project_id or None,
        domain_name=options.domain_name or None,
        user_domain_name=options.user_domain_name or None,
        project_domain_name=options.project_domain_name or None,
        ca_file=options.cacert or None,
        cert_file=options.cert or None,
        key_file=options.key or None,
        application_credential_id=options.application_credential_id or None,
        application_credential_name=options.application_credential_name or None,
        application_credential_secret=options.application_credential_secret,
    )
    from osk8s_core import __version__  # noqa: PLC0415

    settings = ClientSettings(component=CLIENT_PROG, version=__version__, timeout=30.0)
    ca_store = CaFileStore()
    try:
        session = build_session(auth, settings=settings, ca_store=ca_store)
        with translate_errors("token_issue"):
            access = session.auth.get_access(session)  # type: ignore[union-attr]
    finally:
        ca_store.close()
    expires = access.expires or datetime.now(UTC)
    return SecretStr(access.auth_token), expires


def _prompt(
    options: ClientOptions, *, stdin: TextIO, stderr: TextIO, read_secret: ReadSecret
) -> ClientOptions:
    def ask(label: str) -> str:
        stderr.write(f"Please enter {label}: ")
        stderr.flush()
        return stdin.readline().strip()

    app = options.uses_application_credential
    # An application credential id names its user: CPO still asked for user and domain.
    by_id = bool(options.application_credential_id)
    url = options.keystone_url or ask("Keystone Auth URL")
    domain = options.domain_name or ("" if by_id else ask("domain name"))
    user = options.user_name or ("" if by_id else ask("user name"))
    project = options.project_name or ("" if app else ask("project name"))
    password = options.password
    if not password and not app:
        password = SecretStr(read_secret("Please enter password: "))
    return replace(
        options,
        keystone_url=url,
        domain_name=domain,
        user_name=user,
        project_name=project,
        password=password,
    )


def _identity(options: ClientOptions) -> str:
    return cache_key(
        options.keystone_url,
        options.user_name,
        options.user_id,
        options.project_name,
        options.project_id,
        options.domain_name,
        options.user_domain_name,
        options.application_credential_id,
        options.application_credential_name,
    )


def run_client(
    ns: argparse.Namespace,
    *,
    environ: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    issuer: TokenIssuer = keystone_issuer,
    read_secret: ReadSecret | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    info = parse_exec_info(environ)
    options = ClientOptions.from_args(ns, environ)
    interactive = stdin.isatty() and info.interactive is not False
    if interactive:
        secret_reader = read_secret or (lambda prompt: getpass.getpass(prompt, stream=stderr))
        try:
            options = _prompt(options, stdin=stdin, stderr=stderr, read_secret=secret_reader)
        except (OSError, EOFError) as exc:
            stderr.write(f"Failed to read data from console: {exc}\n")
            return 1
    elif not options.complete():
        options = options.with_env_fallback(environ)
    cache = (
        None
        if ns.no_token_cache
        else TokenFileCache(
            default_cache_dir(environ)
            if not ns.token_cache_dir
            else Path(ns.token_cache_dir).expanduser()
        )
    )
    key = _identity(options)
    cached = cache.load(key, now=now()) if cache is not None else None
    if cached is not None:
        token, expires = cached.token, cached.expires
    else:
        try:
            token, expires = issuer(options)
        except errors.Unauthorized:
            if cache is not None:
                cache.drop(key)
            stdout.write(json.dumps(exec_credential(info.api_version), indent=2) + "\n")
            stderr.write("Invalid user credentials were provided\n")
            return 0
        except errors.Osk8sError as exc:
            stderr.write(f"An error occurred: {exc}\n")
            return 1
        if cache is not None:
            try:
                cache.store(key, token, expires)
            except OSError as exc:
                stderr.write(f"warning: token not cached: {exc.strerror}\n")
    stdout.write(json.dumps(exec_credential(info.api_version, token, expires), indent=2) + "\n")
    return 0
