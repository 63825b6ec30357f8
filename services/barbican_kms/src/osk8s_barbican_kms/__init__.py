"""osk8s barbican_kms.

Kubernetes KMS (v1beta1 and v2) plugin whose key lives in Barbican.
"""
