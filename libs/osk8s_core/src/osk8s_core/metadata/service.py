"""Read instance metadata from the Nova metadata service (``169.254.169.254``).

One GET of ``<base>/openstack/latest/meta_data.json`` with a timeout, ignoring proxy
environment variables (as CPO: the link-local address must never go through a proxy). The base
URL is injectable so tests use a 127.0.0.1 server. No retries here; the provider decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from osk8s_core.errors import MetadataError
from osk8s_core.metadata.model import META_DATA_PATH, InstanceMetadata, parse_meta_data

SOURCE = "metadataService"
DEFAULT_BASE_URL = "http://169.254.169.254"


@dataclass(frozen=True)
class MetadataServiceSource:
    """Metadata from the metadata service; ``fetch()`` raises MetadataError when unavailable."""

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0
    """Seconds for connect and for each read (CPO sets none and can hang forever)."""

    name = SOURCE

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{META_DATA_PATH}"

    def fetch(self) -> InstanceMetadata:
        url = self.url
        with requests.Session() as session:
            # trust_env=False: no HTTP(S)_PROXY, no .netrc, as CPO's Proxy: nil.
            session.trust_env = False
            try:
                response = session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise MetadataError(f"{SOURCE}: error fetching {url}: {exc}") from exc
        if response.status_code != 200:
            raise MetadataError(
                f"{SOURCE}: unexpected status code when reading metadata from {url}: "
                f"{response.status_code} {response.reason}"
            )
        return parse_meta_data(response.content, source=SOURCE)
