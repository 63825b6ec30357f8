"""Kubernetes layer of the core: client factory, leader election, list+watch runtime, events.

Import the submodules directly (``osk8s_core.k8s.leader``…): this package re-exports nothing,
so importing it stays cheap for services that need only a part. Kubernetes API errors are
translated into ``osk8s_core.errors`` only in ``apierrors``; nothing here talks to OpenStack.
"""
