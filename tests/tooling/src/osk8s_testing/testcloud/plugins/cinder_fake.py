"""Cinder's in-tree fake logging volume driver, plus extend.

The wheel ships ``cinder.tests.fake_driver``; its driver has no working extend, which the CSI
expand path needs. This adds a no-op extend and must not change any other behaviour.
"""

from typing import Any

from cinder.tests import fake_driver


class ExtendableFakeDriver(fake_driver.FakeLoggingVolumeDriver):  # type: ignore[misc]
    """FakeLoggingVolumeDriver whose extend_volume succeeds without doing anything."""

    def extend_volume(self, volume: Any, new_size: int) -> None:
        # Nothing to grow: the fake backend stores no data.
        return None
