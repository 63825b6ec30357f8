"""Allows ``python -m osk8s_ccm``."""

from osk8s_ccm.cli import main

raise SystemExit(main())
