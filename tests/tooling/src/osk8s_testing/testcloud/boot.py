"""The flavor and image the test cloud made for booting servers.

Tests run in parallel against one cloud, and some create odd flavors and images of their own (a
flavor no host can fit, to provoke NoValidHost; an image they delete again). Picking "the smallest
flavor" or "any active image" from the lists then picks another test's object at random; these
names are the test cloud's own, made once by its bootstrap and never changed by a test.
"""

from __future__ import annotations

from typing import Any

BOOT_FLAVOR = "osk8s.small"
BOOT_IMAGE = "osk8s-fake-image"


def boot_flavor_id(conn: Any) -> str:
    """The id of the test cloud's boot flavor (``conn``: an openstacksdk Connection)."""
    return str(conn.compute.find_flavor(BOOT_FLAVOR, ignore_missing=False).id)


def boot_image_id(conn: Any) -> str:
    """The id of the test cloud's boot image (public, active)."""
    return str(conn.image.find_image(BOOT_IMAGE, ignore_missing=False).id)
