"""The exec plugin's Keystone login, with the standard library only.

``client-keystone-auth`` runs on laptops and ships as one file that needs only Python 3
(``build_zipapp.py``), so this module uses ``urllib``/``ssl``/``json`` instead of keystoneauth:
the v3 endpoint is discovered from the auth URL (``discovery``, as the webhook does), then
``POST /v3/auth/tokens?nocatalog`` with a password (scoped to the project, like CPO's
gophercloud login) or an application credential (by id, or by name with its user). Proxies come
from the usual ``*_proxy`` variables (urllib's default); ``--cacert``, ``--cert``/``--key``
set up TLS. HTTP errors map to the core's error classes here, in one place: 401 is
``Unauthorized`` (CPO then prints an empty ExecCredential), an unreachable Keystone is
``ServiceUnavailable``. Secrets go only into the request body; errors never carry them.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from osk8s_core import errors
from osk8s_core.secrets import SecretStr
from osk8s_keystone_auth.client_options import ClientOptions
from osk8s_keystone_auth.discovery import discovery_urls, v3_from_document

TIMEOUT = 30.0
USER_AGENT = "client-keystone-auth (osk8s)"


def _opener(options: ClientOptions) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=options.cacert or None)
    if options.cert:
        context.load_cert_chain(options.cert, options.key or None)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


def _failure(status: int, document: object) -> str:
    """``Keystone answered HTTP <status>: <Keystone's error message>``, short."""
    error = document.get("error") if isinstance(document, dict) else None
    detail = str(error.get("message") or "")[:200] if isinstance(error, dict) else ""
    return f"Keystone answered HTTP {status}" + (f": {detail}" if detail else "")


def _send(
    opener: urllib.request.OpenerDirector, url: str, body: dict[str, Any] | None = None
) -> tuple[int, Any, Any]:
    """(status, JSON document, headers); 3xx/4xx/5xx answers with a body are returned too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="GET" if body is None else "POST",
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), exc.headers
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise errors.ServiceUnavailable(f"cannot reach Keystone at {url}: {reason}") from None
    try:
        document = json.loads(raw) if raw else None
    except ValueError:
        document = None
    if status == 401:
        raise errors.Unauthorized(_failure(status, document))
    if status >= 500:
        raise errors.ServerError(_failure(status, document), status=status)
    return status, document, headers


def discover_v3(opener: urllib.request.OpenerDirector, auth_url: str) -> str:
    tried = []
    for url in discovery_urls(auth_url):
        status, document, _ = _send(opener, url)
        endpoint = v3_from_document(document, url=url) if status < 400 else None
        if endpoint:
            return endpoint
        tried.append(f"{url} (HTTP {status})")
    raise errors.ConfigError("no identity v3 API found: " + "; ".join(tried), key="keystone-url")


def _user(options: ClientOptions) -> dict[str, Any]:
    if options.user_id:
        return {"id": options.user_id}
    domain = options.user_domain_name or options.domain_name
    return {"name": options.user_name, "domain": {"name": domain}}


def auth_request(options: ClientOptions) -> dict[str, Any]:
    """The body of ``POST /v3/auth/tokens`` for these credentials."""
    identity: dict[str, Any]
    if options.uses_application_credential:
        secret = options.application_credential_secret
        credential: dict[str, Any] = {"secret": secret.reveal() if secret else ""}
        if options.application_credential_id:
            credential["id"] = options.application_credential_id
        else:
            credential["name"] = options.application_credential_name
            credential["user"] = _user(options)
        identity = {"methods": ["application_credential"], "application_credential": credential}
        return {"auth": {"identity": identity}}  # the credential carries its own scope
    password = options.password.reveal() if options.password else ""
    identity = {
        "methods": ["password"],
        "password": {"user": {**_user(options), "password": password}},
    }
    auth: dict[str, Any] = {"identity": identity}
    if options.project_id:
        auth["scope"] = {"project": {"id": options.project_id}}
    elif options.project_name:
        domain = options.project_domain_name or options.domain_name or options.user_domain_name
        auth["scope"] = {"project": {"name": options.project_name, "domain": {"name": domain}}}
    return {"auth": auth}


def issue_token(options: ClientOptions) -> tuple[SecretStr, datetime]:
    """Log in; the token and its expiry. ``Unauthorized`` for bad credentials."""
    opener = _opener(options)
    v3 = discover_v3(opener, options.keystone_url)
    status, document, headers = _send(opener, f"{v3}/auth/tokens?nocatalog", auth_request(options))
    token = headers.get("X-Subject-Token") if headers is not None else None
    if status >= 400 or not token:
        raise errors.OpenStackError(f"no token: {_failure(status, document)}", status=status)
    expires_text = str(((document or {}).get("token") or {}).get("expires_at") or "")
    try:
        expires = datetime.fromisoformat(expires_text.replace("Z", "+00:00"))
    except ValueError:
        expires = datetime.now(UTC)
    return SecretStr(token), expires
