"""Allows ``python -m osk8s_octavia_ingress``."""

from osk8s_octavia_ingress.cli import main

raise SystemExit(main())
