"""osk8s keystone_auth: ``k8s-keystone-auth`` (webhook) and ``client-keystone-auth`` (exec plugin).

Webhook: ``options`` (flags/env) → ``service.build`` wires ``keystone`` (token validation),
``token_cache`` + ``authenticator``, ``policy``/``permissions``/``authorizer`` (CPO policy v1/v2),
``sync_config``/``sync``/``kube_rbac`` (namespaces, RoleBindings), ``configmaps`` (hot reload),
``app`` (Flask, ``create_app``) and ``server`` (cheroot over TLS); ``discovery`` finds Keystone's
v3 endpoint for both. Exec plugin (standard library only, also shipped as one file by
``build_zipapp.py``): ``client_options``, ``client``, ``keystone_login``, ``client_cache`` (opt-in),
``exec_credential``.

Deliberate differences from CPO (its users asked for them): v1 TokenReview/SubjectAccessReview
accepted (#2562); a bounded token cache, fail-closed past its TTL; ExecCredential v1 when
kubectl asks (#54); application credentials by id alone; ``KEYSTONE_SYNC_CONFIGMAP_NAME``
honoured; policy entries CPO accepts and then crashes on per request (v1 ``resource`` without
``version``/``namespace``, ``null``) allow nothing instead; request bodies capped at 1 MiB; the
exec plugin as one file for laptops.
"""
