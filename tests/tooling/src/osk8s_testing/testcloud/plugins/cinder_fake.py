"""Cinder's in-tree fake logging volume driver, plus extend and create-from-image.

The wheel ships ``cinder.tests.fake_driver``; its driver has no working extend, which the CSI
expand path needs, and its create-from-image falls through to Cinder's generic download path,
which runs ``qemu-img`` through privsep/sudo on a device this backend does not have (the volume
goes to ``error``). This adds a no-op extend and a no-op image "clone"; it must not change any
other behaviour.
"""

from typing import Any

from cinder import exception
from cinder.tests import fake_driver

# An image carrying this property (value "true") makes the copy fail as a real backend's
# would (ImageCopyFailure: the volume goes to ``error``, no reschedule), so tests can still
# reach Cinder's and their callers' failure path. Same name as osk8s_testing.testcloud.boot's
# (this module runs in the cloud's venv and cannot import it).
FAIL_COPY_PROPERTY = "osk8s_fake_copy_fails"


class ExtendableFakeDriver(fake_driver.FakeLoggingVolumeDriver):  # type: ignore[misc]
    """FakeLoggingVolumeDriver whose extend_volume and clone_image succeed doing nothing."""

    def extend_volume(self, volume: Any, new_size: int) -> None:
        # Nothing to grow: the fake backend stores no data.
        return None

    def clone_image(
        self,
        context: Any,
        volume: Any,
        image_location: Any,
        image_meta: dict[str, Any],
        image_service: Any,
    ) -> tuple[dict[str, Any], bool]:
        """Report the image as cloned, so Cinder skips the download and qemu-img conversion.

        Everything around it stays Cinder's own flow: the API checks the image (active, size
        against the volume), the manager looks it up in Glance, and after this returns it sets
        ``bootable`` and copies the image's metadata into ``volume_image_metadata``.
        """
        properties = image_meta.get("properties") or {}
        if str(properties.get(FAIL_COPY_PROPERTY, "")).lower() == "true":
            raise exception.ImageCopyFailure(
                reason=f"image {image_meta.get('id')} has {FAIL_COPY_PROPERTY}=true"
            )
        # A cloning driver creates the volume itself; the fake backend only logs it.
        return self.create_volume(volume) or {}, True
