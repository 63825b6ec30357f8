"""``osk8s-testcloud``: up / down / status of the OpenStack test cloud on 127.0.0.1.

Parses arguments and calls ``cloud``; the only place that prints to the terminal. Exit codes:
0 ok, 1 bring-up failed (the message names the step and the log to read), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from osk8s_testing.testcloud import cloud
from osk8s_testing.testcloud.layout import Layout, resolve_dir
from osk8s_testing.testcloud.services.catalog import ALL, FAST, UnknownService
from osk8s_testing.testcloud.steps import Progress, TestcloudError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osk8s-testcloud", description=__doc__)
    parser.add_argument(
        "--dir", help="data directory (default: $OSK8S_TESTCLOUD_DIR or <repo>/.testcloud)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="install what is missing, set up and start services")
    up.add_argument(
        "services",
        nargs="*",
        default=["fast"],
        help=f"services or sets: fast = {' '.join(FAST)}; all = {' '.join(ALL)}",
    )
    down = sub.add_parser("down", help="stop every process of the test cloud (by pid)")
    down.add_argument("services", nargs="*", help="stop only these services' processes")
    down.add_argument("--wipe", action="store_true", help="also delete all data except the venv")
    sub.add_parser("status", help="show each process, its pid and address")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = Layout(resolve_dir(args.dir, os.environ))
    progress = Progress(out=sys.stdout)
    try:
        if args.command == "up":
            cloud.up(layout=layout, names=args.services, progress=progress)
            print("timings:\n" + progress.summary())
        elif args.command == "down":
            cloud.down(layout=layout, progress=progress, services=args.services, wipe=args.wipe)
        else:
            rows = cloud.status(layout=layout)
            if not rows:
                print(f"no test cloud recorded in {layout.root}")
            for name, pid, where in rows:
                print(f"{name:<18} {pid:>8}  {where}")
    except UnknownService as e:
        print(f"osk8s-testcloud: {e}", file=sys.stderr)
        return 2
    except TestcloudError as e:
        progress.line(f"FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
