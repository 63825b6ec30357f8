"""OpenStack auth options: the keys of a cloud.conf ``[Global]`` section (CPO pkg/client).

A frozen, hashable value object: secrets are ``SecretStr`` (hash and compare by value, print
``***``), so an ``AuthOptions`` can key a connection cache and still be logged safely. It holds
no behaviour beyond small views; validation of completeness lives in ``osk8s_core.credentials``.
"""

from __future__ import annotations

from dataclasses import dataclass

from osk8s_core.config.fields import setting
from osk8s_core.config.values import parse_endpoint_type
from osk8s_core.secrets import SecretStr


@dataclass(frozen=True)
class AuthOptions:
    """One ``[Global]`` / ``[Global "name"]`` section. Unset strings are None."""

    auth_url: str | None = setting("auth-url", None, "Keystone v3 URL, e.g. https://k:5000/v3.")
    user_id: str | None = setting("user-id", None, "User id (password/trust auth).")
    username: str | None = setting("username", None, "User name; needs a user domain.")
    password: SecretStr | None = setting("password", None, "User password. Secret.")
    project_id: str | None = setting("tenant-id", None, "Project id to scope the token to.")
    project_name: str | None = setting("tenant-name", None, "Project name; needs a project domain.")
    trust_id: str | None = setting(
        "trust-id", None, "Keystone trust: authenticate as the trustee scoped to this trust."
    )
    trustee_id: str | None = setting(
        "trustee-id", None, "Trustee user id; overrides user-id for trust auth."
    )
    trustee_password: SecretStr | None = setting(
        "trustee-password", None, "Trustee password; overrides password for trust auth. Secret."
    )
    domain_id: str | None = setting(
        "domain-id", None, "Default for user-domain-id and tenant-domain-id (as gophercloud)."
    )
    domain_name: str | None = setting(
        "domain-name", None, "Default for user-domain-name and tenant-domain-name."
    )
    project_domain_id: str | None = setting("tenant-domain-id", None, "Project's domain id.")
    project_domain_name: str | None = setting("tenant-domain-name", None, "Project's domain name.")
    user_domain_id: str | None = setting("user-domain-id", None, "User's domain id.")
    user_domain_name: str | None = setting("user-domain-name", None, "User's domain name.")
    region: str | None = setting("region", None, "Region for endpoint selection.")
    endpoint_type: str = setting(
        "os-endpoint-type",
        "public",
        "Catalog interface: public (default), internal or admin.",
        parse=parse_endpoint_type,
    )
    ca_file: str | None = setting("ca-file", None, "Path of a PEM CA bundle to verify TLS.")
    ca_data: str | None = setting(
        None, None, "PEM CA contents (manila secrets' os-certAuthority); not an INI key."
    )
    tls_insecure: bool = setting(
        "tls-insecure", False, "Skip TLS verification (gcfg boolean; default false)."
    )
    cert_file: str | None = setting("cert-file", None, "Client certificate (needs key-file).")
    key_file: str | None = setting("key-file", None, "Client certificate key (needs cert-file).")
    token: SecretStr | None = setting("token", None, "Pre-issued Keystone token. Secret.")
    use_clouds: bool = setting(
        "use-clouds", False, "Fill unset keys from clouds.yaml (explicit INI values win)."
    )
    clouds_file: str | None = setting(
        "clouds-file", None, "clouds.yaml path; else OS_CLIENT_CONFIG_FILE, cwd, ~/.config, /etc."
    )
    cloud: str | None = setting("cloud", None, "Entry name in clouds.yaml.")
    application_credential_id: str | None = setting(
        "application-credential-id", None, "Application credential id."
    )
    application_credential_name: str | None = setting(
        "application-credential-name", None, "Application credential name; needs the user."
    )
    application_credential_secret: SecretStr | None = setting(
        "application-credential-secret", None, "Application credential secret. Secret."
    )

    @property
    def effective_user_domain(self) -> tuple[str | None, str | None]:
        """(id, name) of the user's domain, falling back to domain-id/-name (gophercloud)."""
        if self.user_domain_id or self.user_domain_name:
            return self.user_domain_id, self.user_domain_name
        return self.domain_id, self.domain_name

    @property
    def effective_project_domain(self) -> tuple[str | None, str | None]:
        """(id, name) of the project's domain, falling back to domain-id/-name (gophercloud)."""
        if self.project_domain_id or self.project_domain_name:
            return self.project_domain_id, self.project_domain_name
        return self.domain_id, self.domain_name
