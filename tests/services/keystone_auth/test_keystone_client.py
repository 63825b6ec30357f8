"""client-keystone-auth: ExecCredential versions, credential sources, prompts, token cache.

The Keystone login is a narrow injected issuer here (one callable); the real login against
Keystone is in test_keystone_contract.py.
"""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from osk8s_core import errors
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.client import run_client
from osk8s_keystone_auth.client_options import ClientOptions, build_client_parser

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ENV = {
    "OS_AUTH_URL": "https://keystone.example:5000/v3",
    "OS_USERNAME": "alice",
    "OS_PROJECT_NAME": "demo",
    "OS_DOMAIN_NAME": "Default",
    "OS_PASSWORD": "s3cret-pw",
}


class Issuer:
    def __init__(
        self,
        *,
        error: Exception | None = None,
        lifetime: timedelta = timedelta(hours=1),
        prefix: str = "token",
    ) -> None:
        self.prefix = prefix
        self.seen: list[ClientOptions] = []
        self.error = error
        self.lifetime = lifetime

    def __call__(self, options: ClientOptions) -> tuple[SecretStr, datetime]:
        self.seen.append(options)
        if self.error is not None:
            raise self.error
        return SecretStr(f"{self.prefix}-{len(self.seen)}"), NOW + self.lifetime


class Stdin(io.StringIO):
    def __init__(self, text: str = "", *, tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def run(
    argv: list[str], env: dict[str, str], issuer: Issuer, *, stdin: Stdin | None = None, **kw: Any
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_client(
        build_client_parser().parse_args(argv),
        environ=env,
        stdin=stdin or Stdin(),
        stdout=out,
        stderr=err,
        issuer=issuer,
        now=lambda: NOW,
        **kw,
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cache_args(tmp_path: Path) -> list[str]:
    return ["--token-cache-dir", str(tmp_path / "cache")]


def test_keystone_client_prints_v1beta1_by_default(cache_args: list[str]) -> None:
    issuer = Issuer()
    code, out, err = run(cache_args, ENV, issuer)
    assert code == 0, err
    doc = json.loads(out)
    assert doc == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": "token-1", "expirationTimestamp": "2026-11-27T11:00:00Z"},
    }
    options = issuer.seen[0]
    assert (options.keystone_url, options.user_name, options.project_name, options.domain_name) == (
        "https://keystone.example:5000/v3",
        "alice",
        "demo",
        "Default",
    )
    assert options.password is not None and options.password.reveal() == "s3cret-pw"


def test_keystone_client_answers_in_the_version_kubectl_asks(cache_args: list[str]) -> None:
    info = json.dumps(
        {
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "spec": {"interactive": False},
        }
    )
    code, out, _ = run(cache_args, {**ENV, "KUBERNETES_EXEC_INFO": info}, Issuer())
    assert code == 0
    assert json.loads(out)["apiVersion"] == "client.authentication.k8s.io/v1"


def test_keystone_client_flags_beat_env(cache_args: list[str]) -> None:
    issuer = Issuer()
    run([*cache_args, "--user-name", "bob", "--project-name", "ops"], ENV, issuer)
    assert (issuer.seen[0].user_name, issuer.seen[0].project_name) == ("bob", "ops")


def test_keystone_client_application_credential_by_id(cache_args: list[str]) -> None:
    issuer = Issuer()
    env = {"OS_AUTH_URL": "https://k:5000/v3"}
    argv = [
        *cache_args,
        "--application-credential-id",
        "ac-1",
        "--application-credential-secret",
        "acs",
    ]
    code, _, _ = run(argv, env, issuer)
    assert code == 0
    opts = issuer.seen[0]
    assert opts.uses_application_credential and opts.application_credential_id == "ac-1"
    assert opts.complete()


def test_keystone_client_env_fallback_fills_standard_os_vars(cache_args: list[str]) -> None:
    issuer = Issuer()
    env = {
        "OS_AUTH_URL": "https://k:5000/v3",
        "OS_USERNAME": "alice",
        "OS_PASSWORD": "pw",
        "OS_TENANT_NAME": "legacy-project",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
    }
    run(cache_args, env, issuer)
    opts = issuer.seen[0]
    assert opts.project_name == "legacy-project" and opts.user_domain_name == "Default"


def test_keystone_client_bad_credentials_print_empty_status_exit_0(cache_args: list[str]) -> None:
    code, out, err = run(cache_args, ENV, Issuer(error=errors.Unauthorized("nope", status=401)))
    assert code == 0
    assert json.loads(out)["status"] == {}
    assert "Invalid user credentials were provided" in err
    assert "s3cret-pw" not in out + err


def test_keystone_client_other_errors_exit_1(cache_args: list[str]) -> None:
    code, out, err = run(cache_args, ENV, Issuer(error=errors.ServiceUnavailable("keystone down")))
    assert code == 1 and out == ""
    assert "keystone down" in err


def test_keystone_client_caches_token_until_shortly_before_expiry(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    issuer = Issuer()
    args = ["--token-cache-dir", str(cache_dir)]
    run(args, ENV, issuer)
    _, out, _ = run(args, ENV, issuer)
    assert json.loads(out)["status"]["token"] == "token-1"
    assert len(issuer.seen) == 1
    files = list(cache_dir.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert "s3cret-pw" not in files[0].read_text()
    # Another identity gets its own token.
    run([*args, "--project-name", "other"], ENV, issuer)
    assert len(issuer.seen) == 2
    # A token with less than a minute left is not reused.
    short = Issuer(lifetime=timedelta(seconds=30))
    run([*args, "--user-name", "carol"], ENV, short)
    run([*args, "--user-name", "carol"], ENV, short)
    assert len(short.seen) == 2
    # --no-token-cache always asks.
    run([*args, "--no-token-cache"], ENV, issuer)
    assert len(issuer.seen) == 3


def test_keystone_client_prompts_on_a_terminal(cache_args: list[str]) -> None:
    issuer = Issuer()
    asked: list[str] = []

    def read_secret(prompt: str) -> str:
        asked.append(prompt)
        return "typed-pw"

    stdin = Stdin("https://k:5000/v3\nDefault\nalice\ndemo\n", tty=True)
    code, _, err = run(cache_args, {}, issuer, stdin=stdin, read_secret=read_secret)
    assert code == 0
    assert "Please enter Keystone Auth URL: " in err and "Please enter project name: " in err
    assert asked == ["Please enter password: "]
    assert issuer.seen[0].password is not None and issuer.seen[0].password.reveal() == "typed-pw"
    assert "typed-pw" not in err


def test_keystone_client_no_prompt_when_kubectl_says_not_interactive(cache_args: list[str]) -> None:
    issuer = Issuer()
    info = json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": False}}
    )
    stdin = Stdin("", tty=True)
    code, _, err = run(cache_args, {**ENV, "KUBERNETES_EXEC_INFO": info}, issuer, stdin=stdin)
    assert code == 0 and "Please enter" not in err


def test_keystone_client_help_hides_env_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_PASSWORD", "do-not-print")  # restored as it was, even if it was set
    with pytest.raises(SystemExit):
        build_client_parser().parse_args(["--help"])
    assert "do-not-print" not in capsys.readouterr().out


def test_keystone_client_prompt_with_application_credential_id_asks_only_url(
    cache_args: list[str],
) -> None:
    issuer = Issuer()
    stdin = Stdin("https://k:5000/v3\n", tty=True)
    argv = [
        *cache_args,
        "--application-credential-id",
        "ac",
        "--application-credential-secret",
        "s",
    ]
    code, _, err = run(argv, {}, issuer, stdin=stdin, read_secret=lambda _: "unused")
    assert code == 0
    assert err == "Please enter Keystone Auth URL: "
    assert issuer.seen[0].keystone_url == "https://k:5000/v3"


def test_keystone_client_writes_nothing_to_disk_by_default(tmp_path: Path) -> None:
    """As CPO: no flag, no env, no cache; every run logs in."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**ENV, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    issuer = Issuer()
    for _ in range(2):
        code, out, _ = run([], env, issuer)
        assert code == 0 and json.loads(out)["status"]["token"]
    assert len(issuer.seen) == 2
    assert list(home.rglob("*")) == []


def test_keystone_client_cache_opt_in_by_env(tmp_path: Path) -> None:
    cache_dir = tmp_path / "by-env"
    env = {**ENV, "OSK8S_KEYSTONE_TOKEN_CACHE_DIR": str(cache_dir)}
    issuer = Issuer()
    run([], env, issuer)
    _, out, _ = run([], env, issuer)
    assert json.loads(out)["status"]["token"] == "token-1" and len(issuer.seen) == 1
    (cached,) = cache_dir.iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    # --no-token-cache wins over the env.
    run(["--no-token-cache"], env, issuer)
    assert len(issuer.seen) == 2


@pytest.mark.parametrize(
    "switch",
    [
        ["--keystone-url", "https://other.example:5000/v3"],
        ["--user-name", "bob"],
        ["--domain-name", "Other"],
        ["--project-name", "ops"],
        ["--application-credential-id", "ac-2", "--application-credential-secret", "s2"],
    ],
)
def test_keystone_client_cache_is_keyed_by_the_credential(
    cache_args: list[str], switch: list[str]
) -> None:
    """Switching credentials never returns the other credential's token."""
    first, second = Issuer(), Issuer(prefix="other")
    base = ["--application-credential-id", "ac-1", "--application-credential-secret", "s1"]
    start = base if switch[0].startswith("--application") else []
    _, out1, _ = run([*cache_args, *start], ENV, first)
    _, out2, _ = run([*cache_args, *start, *switch], ENV, second)
    assert len(first.seen) == 1 and len(second.seen) == 1  # the second asked Keystone itself
    assert json.loads(out1)["status"]["token"] == "token-1"
    assert json.loads(out2)["status"]["token"] == "other-1"  # its own, not the cached one
    # And each one gets its own back.
    _, again, _ = run([*cache_args, *start], ENV, first)
    assert len(first.seen) == 1 and json.loads(again)["status"]["token"] == "token-1"


def test_keystone_login_request_bodies() -> None:
    from osk8s_keystone_auth.keystone_login import auth_request

    password = auth_request(
        ClientOptions(
            keystone_url="https://k",
            user_name="alice",
            domain_name="Default",
            project_name="demo",
            password=SecretStr("pw"),
        )
    )
    assert password == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "alice", "domain": {"name": "Default"}, "password": "pw"}
                },
            },
            "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}},
        }
    }
    split_domains = auth_request(
        ClientOptions(
            user_name="alice",
            user_domain_name="Users",
            project_domain_name="Projects",
            project_name="demo",
            password=SecretStr("pw"),
        )
    )["auth"]
    assert split_domains["identity"]["password"]["user"]["domain"] == {"name": "Users"}
    assert split_domains["scope"]["project"]["domain"] == {"name": "Projects"}
    by_ids = auth_request(ClientOptions(user_id="u-1", project_id="p-1", password=SecretStr("pw")))[
        "auth"
    ]
    assert by_ids["identity"]["password"]["user"] == {"id": "u-1", "password": "pw"}
    assert by_ids["scope"] == {"project": {"id": "p-1"}}
    app_by_id = auth_request(
        ClientOptions(
            application_credential_id="ac-1",
            application_credential_secret=SecretStr("s"),
            project_name="ignored",
        )
    )
    assert app_by_id == {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": "ac-1", "secret": "s"},
            }
        }
    }
    app_by_name = auth_request(
        ClientOptions(
            application_credential_name="ci",
            application_credential_secret=SecretStr("s"),
            user_name="alice",
            domain_name="Default",
        )
    )["auth"]["identity"]["application_credential"]
    assert app_by_name == {
        "name": "ci",
        "secret": "s",
        "user": {"name": "alice", "domain": {"name": "Default"}},
    }
