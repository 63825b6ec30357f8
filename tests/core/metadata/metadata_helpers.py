"""Helpers for the metadata tests: a meta_data.json document, a fake of the narrow
``BlockDevices`` protocol, and a tiny metadata service on 127.0.0.1 (uniquely named module so
imports cannot collide with other folders' conftest modules)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

UUID = "83679162-1378-4288-a2d4-70e13ec132aa"

META_DATA = {
    "uuid": UUID,
    "name": "worker-1",
    "hostname": "worker-1.novalocal",
    "availability_zone": "Württemberg Test",
    "launch_index": 0,
    "devices": [
        {"type": "nic", "bus": "pci", "address": "0000:00:03.0", "mac": "fa:16:3e:00:00:01"},
        {
            "type": "disk",
            "bus": "scsi",
            "serial": "6f4d2a1c-0000-4000-8000-000000000001",
            "address": "0:0:0:1",
            "tags": ["data"],
        },
    ],
}


def document(**overrides: object) -> bytes:
    return json.dumps({**META_DATA, **overrides}).encode()


@dataclass
class FakeBlockDevices:
    """Mounting "works" by writing the drive's files into the target directory."""

    drive_files: dict[str, bytes]
    blkid_device: str | None = None
    blkid_error: bool = False
    working_fstypes: tuple[str, ...] = ("iso9660",)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    mounted: set[Path] = field(default_factory=set)

    def find_by_label(self, label: str) -> str | None:
        self.calls.append(("blkid", label))
        if self.blkid_error:
            raise OSError("blkid exited 2")
        return self.blkid_device

    def mount_readonly(self, device: str, target: Path, fstype: str) -> None:
        self.calls.append(("mount", device, fstype))
        if fstype not in self.working_fstypes:
            raise OSError(f"mount: wrong fs type {fstype}")
        for rel, data in self.drive_files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
        self.mounted.add(target)

    def unmount(self, target: Path) -> None:
        self.calls.append(("umount", str(target)))
        for path in sorted(target.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        self.mounted.discard(target)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out on purpose (the timeout test) makes the late write fail.
        pass


@dataclass
class MetadataServer:
    url: str
    hits: list[str]


@contextmanager
def metadata_server(
    body: bytes = b"", status: int = 200, delay: float = 0.0
) -> Iterator[MetadataServer]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield MetadataServer(url=f"http://127.0.0.1:{server.server_address[1]}", hits=hits)
    finally:
        server.shutdown()
        server.server_close()
