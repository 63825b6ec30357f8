"""``client-keystone-auth``: get a Keystone token and print it as an ExecCredential.

Credentials: flags/env; on a terminal (and when kubectl allows interaction) missing fields are
prompted for on stderr, the password hidden; otherwise incomplete flags fall back to the
standard ``OS_*`` variables. As CPO, every run logs in to Keystone and nothing is written to
disk (kubectl keeps the credential in memory until ``expirationTimestamp``). Only when asked
(``--token-cache-dir`` or ``$TOKEN_CACHE_DIR_ENV``) is the token kept in a 0600 file keyed by
the credential, and reused until a minute before it expires. Bad credentials (401) print an
empty ExecCredential and exit 0, as CPO. Secrets never reach stderr or logs. Standard library
only (with ``osk8s_core``'s stdlib modules): this is what the one-file zipapp runs.
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
from osk8s_keystone_auth.client_options import ClientOptions
from osk8s_keystone_auth.exec_credential import exec_credential, parse_exec_info
from osk8s_keystone_auth.keystone_login import issue_token

TokenIssuer = Callable[[ClientOptions], tuple[SecretStr, datetime]]
ReadSecret = Callable[[str], str]

TOKEN_CACHE_DIR_ENV = "OSK8S_KEYSTONE_TOKEN_CACHE_DIR"
"""Opt-in on-disk token cache directory, as ``--token-cache-dir`` (the flag wins)."""


def token_cache(ns: argparse.Namespace, environ: Mapping[str, str]) -> TokenFileCache | None:
    """The on-disk cache if asked for (flag, else env), unless ``--no-token-cache``."""
    directory = ns.token_cache_dir or environ.get(TOKEN_CACHE_DIR_ENV, "")
    if ns.no_token_cache or not directory:
        return None
    return TokenFileCache(Path(directory).expanduser())


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


def credential_key(options: ClientOptions) -> str:
    """Names the credential a token comes from: switching any of these never returns another
    credential's token. Secrets stay out (a password digest in a file name would be a hash
    to attack offline); a wrong password with a cached token is refused at its next login."""
    method = "application_credential" if options.uses_application_credential else "password"
    return cache_key(
        "v2",
        method,
        options.keystone_url.rstrip("/"),
        options.user_name,
        options.user_id,
        options.domain_name,
        options.user_domain_name,
        options.project_name,
        options.project_id,
        options.project_domain_name,
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
    issuer: TokenIssuer = issue_token,
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
    cache = token_cache(ns, environ)
    key = credential_key(options)
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
