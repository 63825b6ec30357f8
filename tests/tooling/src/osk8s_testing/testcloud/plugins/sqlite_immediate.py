"""Make every SQLite transaction in this process ``BEGIN IMMEDIATE`` with a 30 s busy timeout.

With pysqlite's default deferred transactions, a transaction that reads and then writes fails
at once with "database is locked" when another connection wrote in between (a WAL snapshot
conflict; the busy timeout does not apply). Neutron's threads and Cinder's three processes hit
that under load. IMMEDIATE takes the write lock up front, so writers queue instead. Imported
at start-up (via a .pth) only when ``OSK8S_SQLITE_IMMEDIATE=1``; it touches SQLite engines only.
"""

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")


# oslo.db registers the same recipe with a plain BEGIN on its engines, guarded by this
# conn.info marker; class-level listeners run first, so setting the marker makes it stand down.
_MARK = "in_transaction"


def _on_begin(conn: Connection) -> None:
    if conn.dialect.name == "sqlite" and _MARK not in conn.info:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info[_MARK] = True


def _on_end(conn: Connection) -> None:
    conn.info.pop(_MARK, None)


event.listen(Engine, "connect", _on_connect)
event.listen(Engine, "begin", _on_begin)
event.listen(Engine, "commit", _on_end)
event.listen(Engine, "rollback", _on_end)
