"""Image entrypoint in the style of upstream's go-runner: lets `args` name the program or not.

The image's Entrypoint is `python3 /app/entrypoint.py /bin/<name>`; the container's `args`
follow. Upstream's manifests start their images three ways, and each works unchanged:

- `args: ["/bin/<name>", "--flag", ...]` (or `./bin/<name>` from WORKDIR /, or a command
  found on PATH): the first argument is a program, so it runs with the rest;
- `args: ["--flag", ...]` (a first argument starting with `-`): the image's own program runs
  with all of them;
- no args: the image's own program runs alone.

A first argument that is neither a flag nor a program in the image fails with one line and
exit status 127, as a container runtime does for a command it cannot find.
"""

from __future__ import annotations

import os
import shutil
import sys

NOT_FOUND = 127


def resolve(program: str) -> str | None:
    """The executable a first argument names, or None (a path, else a PATH lookup)."""
    if "/" in program:
        path = os.path.abspath(program)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(program)


def command(default: str, args: list[str]) -> tuple[str | None, list[str]]:
    """(executable, argv) to exec for the container's args."""
    if not args or args[0].startswith("-"):
        return default, [default, *args]
    return resolve(args[0]), args


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("entrypoint: usage: entrypoint.py /bin/<name> [args...]\n")
        return 2
    executable, args = command(argv[0], argv[1:])
    if executable is None:
        sys.stderr.write(f"entrypoint: {args[0]!r}: no such program in this image\n")
        return NOT_FOUND
    try:
        os.execv(executable, args)
    except OSError as exc:
        sys.stderr.write(f"entrypoint: cannot run {executable!r}: {exc.strerror}\n")
    return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
