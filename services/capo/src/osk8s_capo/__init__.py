"""osk8s capo.

Cluster API infrastructure provider for OpenStack (infrastructure.cluster.x-k8s.io).
"""
