"""Allows ``python -m osk8s_keystone_auth``."""

from osk8s_keystone_auth.cli import main

raise SystemExit(main())
