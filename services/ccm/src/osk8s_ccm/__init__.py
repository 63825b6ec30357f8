"""osk8s ccm.

Cloud controller manager for OpenStack: InstancesV2, node lifecycle, Octavia load balancers,
routes.
"""
