"""Services of type LoadBalancer on Octavia (CPO's ``loadbalancer*.go``), one concern per module:
names and markers (``naming``), API feature gates (``features``), the wanted tree of listeners,
pools, members and monitors (``desired``), reconciling an LB's children (``tree``), floating
IPs (``floating``), managed security groups (``secgroups``), and the provider that puts them
together behind the service controller's LoadBalancer protocol (``provider``). Every OpenStack
call goes through the core layer (``osk8s_core.openstack``); nothing here talks to Kubernetes.
"""
