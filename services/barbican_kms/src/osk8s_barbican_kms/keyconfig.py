"""Keys and write format from ``[KeyManager]`` of the cloud.conf; re-read only on change.

The loader is the one reader of files; this wraps it so a periodic refresh costs a ``stat``
and unknown-key warnings are not logged again every few minutes. It never reads the key
material itself (that is Barbican's job).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from osk8s_barbican_kms.envelope import MAX_KEY_ID_BYTES
from osk8s_barbican_kms.formats import WriteFormat
from osk8s_barbican_kms.keyring import KeyIds
from osk8s_core.config import KeyManagerOptions, LoadResult
from osk8s_core.errors import ConfigError

Loader = Callable[[Sequence[Path]], LoadResult]


def key_ids_from(options: KeyManagerOptions, *, file: str) -> KeyIds:
    if not options.key_id:
        raise ConfigError(
            "no key configured",
            file=file,
            section="KeyManager",
            key="key-id",
            expected="the UUID of a Barbican secret holding a 16/24/32-byte AES key",
        )
    for key_id in (options.key_id, *options.old_key_ids):
        # The id travels in every ciphertext header (one length byte).
        if len(key_id.encode()) > MAX_KEY_ID_BYTES:
            raise ConfigError(
                f"key id of {len(key_id.encode())} bytes is too long",
                file=file,
                section="KeyManager",
                expected=f"a Barbican secret UUID (at most {MAX_KEY_ID_BYTES} bytes)",
            )
    try:
        write_format = WriteFormat(options.write_format.strip().lower())
    except ValueError:
        raise ConfigError(
            f"unknown write-format {options.write_format!r}",
            file=file,
            section="KeyManager",
            key="write-format",
            expected=" or ".join(f.value for f in WriteFormat),
        ) from None
    return KeyIds(current=options.key_id, old=tuple(options.old_key_ids), write_format=write_format)


class KeyIdsFromConfig:
    """Callable returning the configured ``KeyIds``; re-parses when a config file changed."""

    def __init__(self, paths: Sequence[str | Path], *, loader: Loader) -> None:
        self._paths = tuple(Path(p) for p in paths)
        self._loader = loader
        self._lock = threading.Lock()
        self._files: tuple[Path, ...] = self._paths
        self._seen: tuple[tuple[int, int, int], ...] | None = None
        self._ids: KeyIds | None = None

    def __call__(self) -> KeyIds:
        with self._lock:
            seen = _fingerprint(self._files)
            if self._ids is not None and seen == self._seen:
                return self._ids
            result = self._loader(self._paths)
            ids = key_ids_from(result.config.key_manager, file=", ".join(map(str, self._paths)))
            files = (*self._paths, *(f for f in result.files if f not in self._paths))
            # Same files: keep the fingerprint taken before reading, so a write racing the
            # read is picked up next time.
            self._seen = seen if files == self._files else _fingerprint(files)
            self._files = files
            self._ids = ids
            return ids


def _fingerprint(files: Sequence[Path]) -> tuple[tuple[int, int, int], ...]:
    out = []
    for path in files:
        try:
            st = os.stat(path)  # follows the ..data symlink a mounted Secret swaps
        except OSError:
            out.append((-1, -1, -1))
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)
