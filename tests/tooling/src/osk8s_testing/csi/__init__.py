"""Shared CSI conformance tooling: request builders, spec checks any CSI driver must pass,
small shared fakes (a recording PVC reader, the sidecar's call-again),
and a recording CSI node plugin (the partner a forwarding driver talks to).

Drivers' suites (cinder, manila) call these over the driver's real gRPC socket; what is
driver-specific (names, capability sets, which fields are required) is passed in.
"""
