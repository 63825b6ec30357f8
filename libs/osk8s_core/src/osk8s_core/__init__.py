"""osk8s_core: what every osk8s service would otherwise write again.

Public modules: ``config`` (cloud.conf / clouds.yaml / OS_* loading), ``credentials``
(openstacksdk Connection factory), ``errors``, ``retry``, ``metrics``, ``logging``,
``openstack`` (instrumented client layer), ``k8s`` (client, leader election, controller
runtime), ``grpc`` (server plumbing), ``metadata`` (config drive / metadata service) and ``cli``.
This package never imports a service package (checked by import-linter).
"""

__version__ = "0.1.0"
