"""osk8s cinder_csi.

CSI driver for OpenStack Cinder block storage (cinder.csi.openstack.org).
"""
