"""InstancesV2 settings from a loaded cloud.conf and the process environment (parsed once)."""

from __future__ import annotations

from collections.abc import Mapping

from osk8s_ccm.instances import InstanceSettings
from osk8s_core.config import CloudConfig

REGIONAL_ENV = "OS_CCM_REGIONAL"


def instance_settings(config: CloudConfig, environ: Mapping[str, str]) -> InstanceSettings:
    """``[Global] region``, ``[Networking]``, and ``OS_CCM_REGIONAL`` (exactly ``true``, as
    CPO compares it) for region-qualified providerIDs."""
    return InstanceSettings(
        region=config.global_.region or "",
        regional=environ.get(REGIONAL_ENV) == "true",
        networking=config.networking,
    )
