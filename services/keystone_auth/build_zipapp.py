"""Build ``client-keystone-auth`` as one file a laptop user runs with nothing but Python 3.11+.

    uv run python services/keystone_auth/build_zipapp.py [dist/client-keystone-auth.pyz]

The exec plugin and the modules it imports are standard-library only (``keystone_login`` talks
to Keystone with urllib), so the zipapp bundles just our own sources: starting from the entry
module (and ``client``, which it imports when called), every module-level ``osk8s_*`` import is
followed and packed; anything else must be in
the standard library, or the build fails. Imports inside functions are not followed: they
serve other commands (the webhook) and are never reached from ``client_main``; the CI test
runs the result with ``python3 -I`` against a real Keystone, which is the proof.

Deterministic: entries sorted, fixed timestamps and modes, sources only (no ``.pyc``), so the
same tree always gives the same bytes (tested), and a release can be checked by rebuilding.
"""

from __future__ import annotations

import argparse
import ast
import io
import stat
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = (
    REPO / "services" / "keystone_auth" / "src",
    REPO / "libs" / "osk8s_core" / "src",
)
ENTRY = "osk8s_keystone_auth.cli"
ROOTS = (ENTRY, "osk8s_keystone_auth.client")
"""``client_main`` imports ``client`` when called (to keep ``--help`` light): a second root."""
OWN_PREFIXES = ("osk8s_keystone_auth", "osk8s_core")
MIN_PYTHON = (3, 11)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SHEBANG = b"#!/usr/bin/env python3\n"
MAIN = f'''"""client-keystone-auth (osk8s), as one file: run it with python3 (3.11 or newer)."""

import sys

if sys.version_info < {MIN_PYTHON!r}:
    sys.exit("client-keystone-auth needs Python {".".join(map(str, MIN_PYTHON))} or newer")

from {ENTRY} import client_main  # noqa: E402

sys.exit(client_main())
'''


class BuildError(Exception):
    """The exec plugin imports something the zipapp cannot carry."""


def module_file(name: str) -> Path | None:
    """The source of one of our modules (package ``__init__`` or module file), or None."""
    parts = name.split(".")
    for root in SOURCE_ROOTS:
        package = root.joinpath(*parts, "__init__.py")
        if package.is_file():
            return package
        module = root.joinpath(*parts[:-1], f"{parts[-1]}.py")
        if module.is_file():
            return module
    return None


def _top_level_imports(path: Path, name: str) -> set[str]:
    """Modules imported at module level (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # ``from pkg import mod`` may name a submodule.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def closure(*roots: str) -> dict[str, Path]:
    """Our modules reachable from ``roots`` by module-level imports, with their packages."""
    todo, files = list(roots), {}
    while todo:
        name = todo.pop()
        if name in files:
            continue
        path = module_file(name)
        if path is None:
            raise BuildError(f"{name}: no such module in {', '.join(map(str, SOURCE_ROOTS))}")
        files[name] = path
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
        for imported in _top_level_imports(path, name):
            top = imported.split(".")[0]
            if top in OWN_PREFIXES:
                if module_file(imported) is not None:
                    todo.append(imported)
            elif top not in sys.stdlib_module_names:
                raise BuildError(f"{name} imports {imported!r}, which is not in the stdlib")
    return files


def _entry(name: str, data: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3  # Unix, whatever machine builds it
    return info, data


def build_bytes(roots: tuple[str, ...] = ROOTS) -> bytes:
    entries = [_entry("__main__.py", MAIN.encode())]
    for path in closure(*roots).values():
        root = next(r for r in SOURCE_ROOTS if path.is_relative_to(r))
        entries.append(_entry(path.relative_to(root).as_posix(), path.read_bytes()))
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in sorted(entries, key=lambda e: e[0].filename):
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def build(output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(build_bytes())
    output.chmod(0o755)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output", nargs="?", default=str(REPO / "dist" / "client-keystone-auth.pyz")
    )
    args = parser.parse_args(argv)
    try:
        path = build(Path(args.output))
    except BuildError as exc:
        print(f"build_zipapp: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
