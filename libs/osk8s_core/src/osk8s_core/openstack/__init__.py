"""OpenStack access for osk8s: the instrumented call layer and the one error mapper.

``client.OpenStackClient`` is what every service calls OpenStack through (metrics, retries,
error mapping, failure logging); ``errors`` maps library exceptions to ``osk8s_core.errors``.
Per-resource modules (volumes, load balancers, ...) build on these and never catch library
exceptions themselves.
"""
