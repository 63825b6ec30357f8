"""osk8s octavia_ingress.

Ingress controller that implements Kubernetes Ingresses with Octavia load balancers.
"""
