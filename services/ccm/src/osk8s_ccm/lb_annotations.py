"""Names of the Service annotations OCCM reads or writes (§1.4.3 of the CPO anchor).

Only names here; parsing and precedence live in ``lb_settings``.
"""

from __future__ import annotations

PREFIX = "loadbalancer.openstack.org/"

INTERNAL = "service.beta.kubernetes.io/openstack-internal-load-balancer"
SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"
NODE_SELECTOR = PREFIX + "node-selector"
CONNECTION_LIMIT = PREFIX + "connection-limit"
FLOATING_NETWORK_ID = PREFIX + "floating-network-id"
FLOATING_SUBNET = PREFIX + "floating-subnet"
FLOATING_SUBNET_ID = PREFIX + "floating-subnet-id"
FLOATING_SUBNET_TAGS = PREFIX + "floating-subnet-tags"
CLASS = PREFIX + "class"
KEEP_FLOATING_IP = PREFIX + "keep-floatingip"
PORT_ID = PREFIX + "port-id"
LB_METHOD = PREFIX + "lb-method"
PROXY_PROTOCOL = PREFIX + "proxy-protocol"
SUBNET_ID = PREFIX + "subnet-id"
NETWORK_ID = PREFIX + "network-id"
MEMBER_SUBNET_ID = PREFIX + "member-subnet-id"
TIMEOUT_CLIENT_DATA = PREFIX + "timeout-client-data"
TIMEOUT_MEMBER_CONNECT = PREFIX + "timeout-member-connect"
TIMEOUT_MEMBER_DATA = PREFIX + "timeout-member-data"
TIMEOUT_TCP_INSPECT = PREFIX + "timeout-tcp-inspect"
X_FORWARDED_FOR = PREFIX + "x-forwarded-for"
FLAVOR_ID = PREFIX + "flavor-id"
AVAILABILITY_ZONE = PREFIX + "availability-zone"
ENABLE_HEALTH_MONITOR = PREFIX + "enable-health-monitor"
HEALTH_MONITOR_DELAY = PREFIX + "health-monitor-delay"
HEALTH_MONITOR_TIMEOUT = PREFIX + "health-monitor-timeout"
HEALTH_MONITOR_MAX_RETRIES = PREFIX + "health-monitor-max-retries"
HEALTH_MONITOR_MAX_RETRIES_DOWN = PREFIX + "health-monitor-max-retries-down"
HOSTNAME = PREFIX + "hostname"
DEFAULT_TLS_CONTAINER_REF = PREFIX + "default-tls-container-ref"
ENABLE_INGRESS_HOSTNAME = PREFIX + "enable-ingress-hostname"
"""osk8s (CPO #3232): per-Service override of ``[LoadBalancer] enable-ingress-hostname``."""

# Written by the controller (a user may preset LOAD_BALANCER_ID to adopt or share an LB).
LOAD_BALANCER_ID = PREFIX + "load-balancer-id"
LOAD_BALANCER_ADDRESS = PREFIX + "load-balancer-address"
