"""The frame the two Octavia demo scenarios (ccm LoadBalancer, ingress) share: an in-memory
Kubernetes API server and a work dir for the process under test, and after the scenario,
whatever the outcome, the process stopped and everything named after the run's cluster swept
from Octavia and Neutron. On failure the process log's tail is shown. Test tooling: never
imported by the core or a service.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osk8s_testing.demo_ccm import _stop

if TYPE_CHECKING:
    from osk8s_testing.demo import Demo
    from osk8s_testing.kubeapi import KubeApiServer


@dataclass
class LbDemoRun:
    """One scenario run; the scenario sets ``proc`` once it has started the process."""

    conn: Any
    cluster: str
    """The cluster name the process is given: every LB and floating IP it makes carries it."""
    server: KubeApiServer
    workdir: Path
    log: Path
    """Where the process writes its output; its tail is shown when the scenario fails."""
    proc: subprocess.Popen[bytes] | None = None


@contextlib.contextmanager
def lb_demo_run(demo: Demo, *, prefix: str, log_name: str) -> Iterator[LbDemoRun]:
    from osk8s_testing.kubeapi import KubeApiServer

    conn: Any = demo.client.connection
    cluster = f"osk8s-demo-{demo.run_id}"
    server = KubeApiServer().start()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        run = LbDemoRun(conn, cluster, server, Path(tmp), Path(tmp) / log_name)
        try:
            yield run
        except Exception:
            if run.log.exists():
                for line in run.log.read_text(errors="replace").splitlines()[-10:]:
                    demo.say(f"! {line}")
            raise
        finally:
            if run.proc is not None:
                demo.say(f"stopped the process (exit status {_stop(run.proc)})")
            sweep(conn, cluster)
            server.stop()


def sweep(conn: Any, cluster: str) -> None:
    """Delete (cascade) the live LBs and the floating IPs whose name or description carry
    ``cluster``; best effort, as a cleanup after a failure must not hide the failure."""
    lb_api = conn.load_balancer
    for lb in lb_api.load_balancers():
        if cluster in str(lb.name) and lb.provisioning_status not in ("DELETED", "PENDING_DELETE"):
            with contextlib.suppress(Exception):
                lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=60)
            with contextlib.suppress(Exception):
                lb_api.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
    for fip in conn.network.ips():
        if cluster in str(fip.description or ""):
            with contextlib.suppress(Exception):
                conn.network.delete_ip(fip.id, ignore_missing=True)
