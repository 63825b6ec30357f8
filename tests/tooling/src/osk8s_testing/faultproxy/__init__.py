"""Fault proxy: an HTTP reverse proxy on 127.0.0.1 that injects faults per URL pattern.

Sits between a client under test and an upstream (the OpenStack test cloud, the in-memory
Kubernetes API server, a tiny test server) and returns 5xx / 429, adds latency, resets or holds
connections, or lets a request through and loses its answer, on every call, the Nth, the first
N, or with a seeded probability. It records every call so tests can count retries. Test
tooling only: the core and services never import it.
"""

from osk8s_testing.faultproxy.calls import Call, CallLog
from osk8s_testing.faultproxy.rules import (
    Always,
    ArmedRule,
    Delay,
    FirstN,
    Hang,
    LoseAnswer,
    Match,
    Nth,
    Probability,
    Reset,
    Respond,
    Rule,
    error,
    rate_limited,
)
from osk8s_testing.faultproxy.server import FaultProxy, start_fleet

__all__ = [
    "Always",
    "ArmedRule",
    "Call",
    "CallLog",
    "Delay",
    "FaultProxy",
    "FirstN",
    "Hang",
    "LoseAnswer",
    "Match",
    "Nth",
    "Probability",
    "Reset",
    "Respond",
    "Rule",
    "error",
    "rate_limited",
    "start_fleet",
]
