"""Private files for inline CA bundles: requests only verifies against a path, not PEM text.

A ``CaFileStore`` owns one private directory (0700) with one 0600 file per distinct bundle,
named by content digest, and removes it on ``close()``. It writes nothing but CA certificates
(public data); client keys are never copied here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path


class CaFileStore:
    """Writes PEM CA bundles to private temp files, one per distinct content, thread-safe."""

    def __init__(self, *, parent: str | None = None) -> None:
        self._parent = parent
        self._dir: Path | None = None
        self._lock = threading.Lock()

    def path_for(self, pem: str) -> str:
        """The path of a 0600 file holding ``pem``, written on first use."""
        data = pem.encode("utf-8")
        name = f"ca-{hashlib.sha256(data).hexdigest()[:32]}.pem"
        with self._lock:
            if self._dir is None:
                # mkdtemp creates the directory 0700, readable by this user only.
                self._dir = Path(tempfile.mkdtemp(prefix="osk8s-ca-", dir=self._parent))
            path = self._dir / name
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            return str(path)

    @property
    def directory(self) -> Path | None:
        """The private directory, once something has been written."""
        return self._dir

    def close(self) -> None:
        """Remove every file written; later ``path_for`` calls start a new directory."""
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
