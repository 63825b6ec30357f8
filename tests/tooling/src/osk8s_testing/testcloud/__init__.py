"""The OpenStack test cloud: real OpenStack services from PyPI on 127.0.0.1 (``osk8s-testcloud``).

Brings up RabbitMQ, Keystone, Barbican, Neutron, Octavia, Cinder (and Placement, Glance, Nova,
Manila) from one pinned venv, writes clouds.yaml / cloud.conf for them, and tears them down by
pid. Test tooling only: the core and the services never import it. ``plugins/`` runs inside the
OpenStack venv and is copied there; nothing here imports it.

Beyond plain APIs, without a data plane: floating IPs report ACTIVE/DOWN with association (as
an L3 agent would); Neutron has trunk, extraroute(-atomic), tags, port security and allowed
address pairs; Nova runs two fake compute hosts in zones az-1 and az-2; Manila's default share
type allows snapshots and clones; Octavia reads TLS listener certificates from Barbican.
"""
