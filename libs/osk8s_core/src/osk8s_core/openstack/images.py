"""Glance images: get by id, and the one image matching a name and tags filter.

Labels: ``image_get``, ``image_list``. CAPO resolves a machine's image once, by id (trusted
as is) or by ``{name, tags}``, which must match exactly one image: none and several are both
errors (``errors.NotFound`` / ``errors.AmbiguousMatch``), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from osk8s_core import errors
from osk8s_core.openstack.filters import named
from osk8s_core.openstack.idempotency import single

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.image.v2._proxy import Proxy as ImageApi
    from openstack.image.v2.image import Image

    from osk8s_core.openstack.client import OpenStackClient


class Images:
    """Glance v2 images visible to the client's project."""

    def __init__(self, client: OpenStackClient[Connection]) -> None:
        self._client = client

    @property
    def _api(self) -> ImageApi:
        return cast("ImageApi", self._client.service("image"))

    def get(self, image_id: str) -> Image:
        return self._client.call("image_get", self._api.get_image, image_id)

    def query(self, *, name: str = "", tags: Sequence[str] = ()) -> list[Image]:
        """Images by name (exact) and carrying every tag in ``tags``."""
        filters: dict[str, Any] = {}
        if name:
            filters["name"] = name
        if tags:
            filters["tag"] = list(tags)
        found = self._client.call("image_list", lambda: list(self._api.images(**filters)))
        if name:
            found = named(found, name)
        wanted = set(tags)
        return [image for image in found if wanted <= set(image.tags or [])]

    def find_one(self, *, name: str = "", tags: Sequence[str] = ()) -> Image:
        """The single image of the filter; NotFound or AmbiguousMatch otherwise."""
        what = f"images named {name!r} with tags {sorted(tags)}"
        image = single(self.query(name=name, tags=tags), what=what)
        if image is None:
            raise errors.NotFound(f"no {what}")
        return image
