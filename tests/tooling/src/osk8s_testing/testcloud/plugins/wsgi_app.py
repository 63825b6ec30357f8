"""Gunicorn app module for OpenStack WSGI services (the "launcher shim").

OpenStack WSGI entry modules parse ``sys.argv`` with oslo.config when imported, so gunicorn's
own flags would be rejected. gunicorn imports this module in the worker; we swap ``sys.argv``
for ``OSK8S_WSGI_ARGV`` and then load ``OSK8S_WSGI_APP``: either ``module:attribute`` or
``paste:/path/to/file.ini#name``. Must not do anything else (no config of its own).
"""

import importlib
import os
import shlex
import sys


def _load() -> object:
    target = os.environ["OSK8S_WSGI_APP"]
    prog = os.environ.get("OSK8S_WSGI_PROG", "osk8s-wsgi")
    saved = sys.argv
    sys.argv = [prog, *shlex.split(os.environ.get("OSK8S_WSGI_ARGV", ""))]
    try:
        if target.startswith("paste:"):
            from paste import deploy  # only the paste-based services need it

            path, _, name = target.removeprefix("paste:").partition("#")
            return deploy.loadapp(f"config:{path}", name=name or "main")
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr or "application")
    finally:
        sys.argv = saved


application = _load()
