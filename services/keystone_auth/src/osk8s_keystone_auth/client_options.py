"""Flags of ``client-keystone-auth`` (CPO spelling, ``OS_*`` env defaults), parsed once.

Env defaults are applied after parsing (flag > env), so ``--help`` never prints a password
taken from the environment; secrets become ``SecretStr`` at once. When the flags are not
complete and stdin is not a terminal, the standard ``OS_*`` variables fill the gaps (CPO reads
them through gophercloud's clientconfig). Import-light; no network here.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, replace

from osk8s_core import cli
from osk8s_core.secrets import SecretStr

CLIENT_PROG = "client-keystone-auth"

# dest -> env var, as CPO's cmd/client-keystone-auth.
CLIENT_ENV: dict[str, str] = {
    "keystone_url": "OS_AUTH_URL",
    "domain_name": "OS_DOMAIN_NAME",
    "user_name": "OS_USERNAME",
    "project_name": "OS_PROJECT_NAME",
    "password": "OS_PASSWORD",
    "cert": "OS_CERT",
    "key": "OS_KEY",
    "cacert": "OS_CACERT",
    "application_credential_id": "OS_APPLICATION_CREDENTIAL_ID",
    "application_credential_name": "OS_APPLICATION_CREDENTIAL_NAME",
    "application_credential_secret": "OS_APPLICATION_CREDENTIAL_SECRET",
}
_SECRET = ("password", "application_credential_secret")


def build_client_parser() -> argparse.ArgumentParser:
    # Upstream parses with pflag.Parse (ExitOnError): flag errors exit 2, not cobra's 1.
    parser = cli.build_parser(
        CLIENT_PROG, "kubectl exec credential plugin for Keystone (osk8s).", error_style="pflag"
    )
    for dest, env in CLIENT_ENV.items():
        flag = "--" + dest.replace("_", "-")
        parser.add_argument(flag, default=None, help=f"env {env}")
    parser.add_argument(
        "--token-cache-dir",
        default=None,
        help="opt in: keep tokens in this directory (0600 files, one per credential) until "
        "shortly before expiry (env OSK8S_KEYSTONE_TOKEN_CACHE_DIR; default: none, as CPO, "
        "nothing is written to disk)",
    )
    parser.add_argument(
        "--no-token-cache",
        action="store_true",
        help="never read or write the token cache, even if a directory is set",
    )
    return parser


@dataclass(frozen=True)
class ClientOptions:
    keystone_url: str = ""
    domain_name: str = ""
    user_name: str = ""
    project_name: str = ""
    password: SecretStr | None = None
    cert: str = ""
    key: str = ""
    cacert: str = ""
    application_credential_id: str = ""
    application_credential_name: str = ""
    application_credential_secret: SecretStr | None = None
    user_domain_name: str = ""
    """From OS_USER_DOMAIN_NAME in the env fallback; else ``domain_name`` is used."""
    project_domain_name: str = ""
    project_id: str = ""
    user_id: str = ""

    @property
    def uses_application_credential(self) -> bool:
        return bool(self.application_credential_id or self.application_credential_name)

    def complete(self) -> bool:
        """CPO's argumentsAreSet, with app credentials by id alone (CPO needed id AND name)."""
        if not self.keystone_url:
            return False
        if self.user_name and self.project_name and self.domain_name and self.password:
            return True
        if not self.application_credential_secret:
            return False
        if self.application_credential_id:
            return True
        return bool(self.application_credential_name and self.user_name and self.domain_name)

    @classmethod
    def from_args(cls, ns: argparse.Namespace, environ: Mapping[str, str]) -> ClientOptions:
        values: dict[str, object] = {}
        for dest, env in CLIENT_ENV.items():
            given = getattr(ns, dest)
            text = given if given is not None else environ.get(env, "")
            values[dest] = (SecretStr(text) if text else None) if dest in _SECRET else text
        return cls(**values)  # type: ignore[arg-type]

    def with_env_fallback(self, environ: Mapping[str, str]) -> ClientOptions:
        """Fill unset fields from the standard ``OS_*`` variables (clientconfig's set)."""

        def env(*names: str) -> str:
            return next((environ[n] for n in names if environ.get(n)), "")

        def pick(current: str, *names: str) -> str:
            return current or env(*names)

        password = self.password or (SecretStr(env("OS_PASSWORD")) if env("OS_PASSWORD") else None)
        secret = self.application_credential_secret or (
            SecretStr(env("OS_APPLICATION_CREDENTIAL_SECRET"))
            if env("OS_APPLICATION_CREDENTIAL_SECRET")
            else None
        )
        return replace(
            self,
            keystone_url=pick(self.keystone_url, "OS_AUTH_URL"),
            user_name=pick(self.user_name, "OS_USERNAME"),
            user_id=pick(self.user_id, "OS_USER_ID"),
            project_name=pick(self.project_name, "OS_PROJECT_NAME", "OS_TENANT_NAME"),
            project_id=pick(self.project_id, "OS_PROJECT_ID", "OS_TENANT_ID"),
            domain_name=pick(self.domain_name, "OS_DOMAIN_NAME"),
            user_domain_name=pick(self.user_domain_name, "OS_USER_DOMAIN_NAME"),
            project_domain_name=pick(self.project_domain_name, "OS_PROJECT_DOMAIN_NAME"),
            password=password,
            application_credential_id=pick(
                self.application_credential_id, "OS_APPLICATION_CREDENTIAL_ID"
            ),
            application_credential_name=pick(
                self.application_credential_name, "OS_APPLICATION_CREDENTIAL_NAME"
            ),
            application_credential_secret=secret,
        )
