"""Keystone on SQLite with fernet tokens, bootstrapped with the admin user and RegionOne.

The admin password goes to keystone-manage through ``OS_BOOTSTRAP_PASSWORD``, never argv (argv
is written to the setup log). Other users and the catalog are made later by the bootstrap
plugin in one openstacksdk process.
"""

from __future__ import annotations

import grp
import os
import pwd

from osk8s_testing.testcloud.procs import ProcessSpec
from osk8s_testing.testcloud.render import render_to
from osk8s_testing.testcloud.services.base import PORTS, REGION, Ctx, Service, sqlite_wal


def _conf(ctx: Ctx) -> str:
    return str(ctx.layout.etc("keystone") / "keystone.conf")


def _configure(ctx: Ctx) -> None:
    etc, data = ctx.layout.etc("keystone"), ctx.layout.data("keystone")
    data.mkdir(parents=True, exist_ok=True)
    render_to("keystone.conf", etc / "keystone.conf", {"etc": etc, "data": data})


def _setup(ctx: Ctx) -> None:
    conf = _conf(ctx)
    manage = ctx.venv_bin("keystone-manage")
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    owner = ("--keystone-user", user, "--keystone-group", group)
    ctx.run("keystone", manage, "--config-file", conf, "db_sync")
    sqlite_wal(ctx.layout.data("keystone") / "keystone.sqlite")
    ctx.run("keystone", manage, "--config-file", conf, "fernet_setup", *owner)
    ctx.run("keystone", manage, "--config-file", conf, "credential_setup", *owner)
    url = f"{ctx.url('keystone')}/v3/"
    ctx.run(
        "keystone",
        manage,
        "--config-file",
        conf,
        "bootstrap",
        "--bootstrap-username",
        "admin",
        "--bootstrap-project-name",
        "admin",
        "--bootstrap-role-name",
        "admin",
        "--bootstrap-service-name",
        "keystone",
        "--bootstrap-region-id",
        REGION,
        "--bootstrap-admin-url",
        url,
        "--bootstrap-internal-url",
        url,
        "--bootstrap-public-url",
        url,
        env={"OS_BOOTSTRAP_PASSWORD": ctx.passwords.admin.reveal()},
    )


def _processes(ctx: Ctx) -> list[ProcessSpec]:
    etc = ctx.layout.etc("keystone")
    env = {"OS_KEYSTONE_CONFIG_DIR": str(etc), "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"}
    return [
        ctx.gunicorn("keystone", "keystone.wsgi.api:application", port=PORTS["keystone"], env=env)
    ]


SERVICE = Service(
    name="keystone",
    setup=_setup,
    configure=_configure,
    processes=_processes,
    probe="http://127.0.0.1:5000/v3",
    requires=(),
)
