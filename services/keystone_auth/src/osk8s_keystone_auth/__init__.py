"""osk8s keystone_auth: ``k8s-keystone-auth`` (webhook) and ``client-keystone-auth`` (exec plugin).

Webhook: ``options`` (flags/env) → ``service.build`` wires ``keystone`` (token validation),
``token_cache`` + ``authenticator``, ``policy``/``permissions``/``authorizer`` (CPO policy v1/v2),
``sync_config``/``sync``/``kube_rbac`` (namespaces, RoleBindings), ``configmaps`` (hot reload),
``app`` (Flask, ``create_app``) and ``server`` (cheroot over TLS). Exec plugin: ``client_options``,
``client``, ``client_cache``, ``exec_credential``.

Deliberate differences from CPO (its users asked for them): v1 TokenReview/SubjectAccessReview
accepted (#2562); a bounded token cache; ExecCredential v1 when kubectl asks (#54); application
credentials by id alone; ``KEYSTONE_SYNC_CONFIGMAP_NAME`` honoured; policy entries CPO accepts and
then crashes on per request (v1 ``resource`` without ``version``/``namespace``, ``null``) allow
nothing instead; a fail-closed token cache (``token_cache``); request bodies capped at 1 MiB.
"""
