"""Allows ``python -m osk8s_manila_csi``."""

from osk8s_manila_csi.cli import main

raise SystemExit(main())
