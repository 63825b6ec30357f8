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


# The fake Cinder driver's switch (plugins/cinder_fake.py keeps the same name: the plugin runs in
# the cloud's venv and cannot import this module). A volume made from an image with this property
# set to "true" ends in ``error``, as a real backend's failed copy would.
FAIL_COPY_PROPERTY = "osk8s_fake_copy_fails"


def create_copy_failing_image(conn: Any, name: str) -> Any:
    """A small active raw image in ``conn``'s project whose copy into a volume fails (the
    caller deletes it)."""
    return conn.image.create_image(
        name=name,
        data=b"\0" * 512,
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
        wait=True,
        **{FAIL_COPY_PROPERTY: "true"},
    )
