"""Allows ``python -m osk8s_cinder_csi``."""

from osk8s_cinder_csi.cli import main

raise SystemExit(main())
