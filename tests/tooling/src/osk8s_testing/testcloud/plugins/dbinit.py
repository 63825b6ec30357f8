"""Create Neutron's tables on SQLite from its models; the caller then stamps alembic at heads.

Neutron's alembic migrations ALTER constraints, which SQLite cannot do, so the schema is made
from the current models instead. Run as ``python -m ...plugins.dbinit neutron SQLITE_URL``; it
touches only the given database.
"""

import sys

import sqlalchemy


def _neutron(engine: sqlalchemy.Engine) -> None:
    from neutron.db.migration.models import head

    head.get_metadata().create_all(engine)


def main() -> None:
    project, url = sys.argv[1], sys.argv[2]
    engine = sqlalchemy.create_engine(url)
    {"neutron": _neutron}[project](engine)
    engine.dispose()


if __name__ == "__main__":
    main()
