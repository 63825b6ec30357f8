"""osk8s manila_csi.

CSI driver for OpenStack Manila shared file systems (manila.csi.openstack.org).
"""
