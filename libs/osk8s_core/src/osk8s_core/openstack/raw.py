"""Plain REST calls through an openstacksdk service proxy, for what the sdk gets wrong.

The proxy still supplies the endpoint (with its version path), the token and the session;
``checked`` turns an error answer into the sdk's exception so ``OpenStackClient`` maps it
like any other call. Used for Barbican payloads and Manila's microversioned ``extend``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


def checked(response: requests.Response) -> requests.Response:
    """The response if it is a success; the sdk's HttpException for its status otherwise."""
    # Imported here: openstacksdk is loaded whenever a proxy made this response.
    from openstack import exceptions  # noqa: PLC0415

    exceptions.raise_from_response(response)
    return response
