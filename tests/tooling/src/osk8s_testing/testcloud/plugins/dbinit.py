"""Create Neutron or Octavia tables on SQLite from the models, then let the caller stamp alembic.

Their alembic migrations use ALTER of constraints, which SQLite cannot do, so the schema is made
from the current models instead. Octavia turns SQLite foreign keys on, so its lookup tables are
filled too. Run as ``python -m ...plugins.dbinit {neutron|octavia} SQLITE_URL``; it touches only
the given database.
"""

import sys

import sqlalchemy


def _neutron(engine: sqlalchemy.Engine) -> None:
    from neutron.db.migration.models import head

    head.get_metadata().create_all(engine)


def _octavia_lookups() -> dict[str, list[str]]:
    from octavia.common import constants as c
    from octavia_lib.common import constants as lib

    provisioning = {
        *lib.SUPPORTED_PROVISIONING_STATUSES,
        c.AMPHORA_ALLOCATED,
        c.AMPHORA_BOOTING,
        c.AMPHORA_FAILOVER_STOPPED,
        lib.AMPHORA_READY,
        c.DELETED,
        c.ERROR,
    }
    return {
        "provisioning_status": sorted(provisioning),
        "operating_status": sorted(lib.SUPPORTED_OPERATING_STATUSES),
        "protocol": sorted(lib.SUPPORTED_PROTOCOLS),
        "algorithm": sorted(lib.SUPPORTED_LB_ALGORITHMS),
        "amphora_roles": sorted(c.SUPPORTED_AMPHORA_ROLES),
        "lb_topology": sorted(c.SUPPORTED_LB_TOPOLOGIES),
        "session_persistence_type": sorted(lib.SUPPORTED_SP_TYPES),
        "health_monitor_type": sorted(lib.SUPPORTED_HEALTH_MONITOR_TYPES),
        "vrrp_auth_method": sorted(c.SUPPORTED_VRRP_AUTH),
        "l7rule_type": sorted(lib.SUPPORTED_L7RULE_TYPES),
        "l7rule_compare_type": sorted(lib.SUPPORTED_L7RULE_COMPARE_TYPES),
        "l7policy_action": sorted(lib.SUPPORTED_L7POLICY_ACTIONS),
        "client_authentication_mode": sorted(lib.SUPPORTED_CLIENT_AUTH_MODES),
    }


def _octavia(engine: sqlalchemy.Engine) -> None:
    from octavia.db import base_models, models

    base_models.BASE.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, names in _octavia_lookups().items():
            tbl = base_models.BASE.metadata.tables[table]
            conn.execute(sqlalchemy.delete(tbl))
            conn.execute(sqlalchemy.insert(tbl), [{"name": n} for n in names])
        # The build-rate limiter expects its single counter row.
        slots = models.AmphoraBuildSlots.__table__
        conn.execute(sqlalchemy.delete(slots))
        conn.execute(sqlalchemy.insert(slots), [{"id": 1, "slots_used": 0}])


def main() -> None:
    project, url = sys.argv[1], sys.argv[2]
    engine = sqlalchemy.create_engine(url)
    {"neutron": _neutron, "octavia": _octavia}[project](engine)
    engine.dispose()


if __name__ == "__main__":
    main()
