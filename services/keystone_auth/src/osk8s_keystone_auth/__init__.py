"""osk8s keystone_auth.

Kubernetes webhook authentication/authorization against Keystone, and the kubectl exec plugin.
"""
