"""Fixtures of the call-layer reliability suite (defined in ``rel_harness``)."""

from rel_harness import hang_harness, harness

__all__ = ["hang_harness", "harness"]
