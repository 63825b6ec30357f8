"""The service controller's LoadBalancer provider, built from the process's context: CPO's
Octavia implementation (``osk8s_ccm.octavia.provider``) with the process's OpenStack
connection and metrics, ``[LoadBalancer]``/``[LoadBalancerClass]`` from cloud.conf, and the
ACTIVE wait of ``OCCM_WAIT_LB_ACTIVE_STEPS``.

Octavia calls get their own client over the same connection whose retry policy also repeats
409 (Octavia answers Conflict while an LB is PENDING_*); Neutron and Barbican calls use the
process's client as is. Reconcile metrics are not handed to the provider: the service
controller measures each provider call once. Nothing here makes a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from osk8s_ccm.lb_settings import wait_lb_active_steps
from osk8s_ccm.octavia.provider import OctaviaProvider, OctaviaSettings, wait_policy_for_steps
from osk8s_core.openstack.client import OpenStackClient
from osk8s_core.openstack.waiting import Waiter
from osk8s_core.retry import DEFAULT_POLICY

if TYPE_CHECKING:
    from osk8s_ccm.manager import ControllerContext


def build_provider(context: ControllerContext, environ: Mapping[str, str]) -> OctaviaProvider:
    log = context.logger or structlog.get_logger("osk8s.ccm.service")
    steps, warning = wait_lb_active_steps(environ)
    if warning is not None:
        log.warning("ignoring environment variable", detail=warning)
    config = context.cloud_config
    network: OpenStackClient[Any] = context.openstack
    octavia: OpenStackClient[Any] = OpenStackClient(
        network.connection,
        metrics=context.metrics.api,
        retry_policy=replace(DEFAULT_POLICY, retry_conflict=True),
        logger=log,
    )
    return OctaviaProvider(
        octavia=octavia,
        network=network,
        settings=OctaviaSettings(
            options=config.load_balancer,
            classes=dict(config.load_balancer_classes),
            region=config.global_.region or "",
        ),
        waiter=Waiter(policy=wait_policy_for_steps(steps)),
    )
