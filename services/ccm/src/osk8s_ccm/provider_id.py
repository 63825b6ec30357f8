"""Node ``spec.providerID`` for OpenStack servers: written and parsed as CPO does.

Written as ``openstack:///<server id>``, or ``openstack://<region>/<server id>`` when the
process runs with ``OS_CCM_REGIONAL=true``. Read in both forms and as a bare server id (a
kubelet started with ``--provider-id=<uuid>``), which is taken as the regionless form. A
region in the providerID that is not ours is an error: that node belongs to another region's
controller, and treating its id as ours would look it up in the wrong cloud.
"""

from __future__ import annotations

import re
from typing import Final

from osk8s_core import errors

SCHEME: Final = "openstack://"
_FORM: Final = re.compile(r"^openstack://([^/]*)/([^/]+)$")


class InvalidProviderId(errors.Osk8sError):
    """The providerID is not one of the forms above, or names another region."""


def format_provider_id(server_id: str, *, region: str, regional: bool) -> str:
    """``openstack:///<id>``, or ``openstack://<region>/<id>`` when ``regional``."""
    return f"{SCHEME}{region if regional else ''}/{server_id}"


def parse_provider_id(provider_id: str, *, region: str) -> str:
    """The server id in ``provider_id``; InvalidProviderId for another form or region."""
    text = provider_id if "://" in provider_id else f"{SCHEME}/{provider_id}"
    match = _FORM.match(text)
    if match is None:
        raise InvalidProviderId(
            f"providerID {provider_id!r} did not match the expected format "
            "'openstack://region/InstanceID'"
        )
    found_region, server_id = match.group(1), match.group(2)
    if found_region and found_region != region:
        raise InvalidProviderId(
            f"providerID {provider_id!r} names region {found_region!r}, "
            f"this controller serves region {region!r}"
        )
    return server_id
