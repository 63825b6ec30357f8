"""gRPC plumbing shared by the CSI and KMS plugins.

``endpoint`` parses ``--endpoint`` and prepares unix sockets; ``server`` builds, binds and
gracefully stops a server with the health service; ``interceptors`` adds request-id logging,
Prometheus metrics and error -> status mapping; ``redact`` keeps secrets out of payload logs.
Protocol specifics (CSI, KMS status tables) live in the services, never here.
"""
