"""In-memory Kubernetes API server for tests (issue 3). Test tooling only.

Fixture API (plugin ``osk8s_testing.kubeapi.fixtures``, registered in tests/conftest.py):

* ``kube_api`` -> :class:`KubeApiServer`, fresh store per test, already started:
  ``.url`` (http://127.0.0.1:PORT), ``.kubeconfig_path`` (kubeconfig file, dummy token),
  ``.api_client()`` (a ``kubernetes.client.ApiClient`` for it, closed at teardown),
  ``.store`` (``.compact()`` forgets watch history so older resourceVersions get 410 Gone;
  ``.resource_version`` is the global counter), ``.ops`` / ``.registry`` for direct access.
* ``kube_api_factory(**ServerConfig fields)`` -> another server with settings, e.g.
  ``history_limit=3``, ``bookmark_interval=0.1``,
  ``webhooks=WebhookConfig(token_review_url=..., authorization_url=...)``.

Namespaces default, kube-system, kube-public, kube-node-lease exist at start; namespaced
objects need an existing namespace (404 otherwise), as on a real cluster.
Standalone: ``osk8s-kube-apiserver --port N --kubeconfig-out PATH`` (127.0.0.1 only).
"""

from osk8s_testing.kubeapi.reviews import WebhookConfig
from osk8s_testing.kubeapi.server import KubeApiServer, ServerConfig

__all__ = ["KubeApiServer", "ServerConfig", "WebhookConfig"]
