"""Allows ``python -m osk8s_barbican_kms``."""

from osk8s_barbican_kms.cli import main

raise SystemExit(main())
