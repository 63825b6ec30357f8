"""Allows ``python -m osk8s_capo``."""

from osk8s_capo.cli import main

raise SystemExit(main())
