"""One table for every attempt limit (staff and member sign-in). The two tables it replaces,
sign_in_attempt (staff) and member_sign_in_event (members), are dropped by their own apps'
migrations of this date without copying: their rows only count for an hour at most, so the
worst a deploy does is forget an hour of failed guesses."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "limit_attempt"


def _params(**extra) -> dict:
    return {"null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **extra}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="limits", description=DESCRIPTION)
    manager.add_table(class_name="LimitAttempt", tablename="limit_attempt", schema=None,
                      columns=None)
    for name, cls, params in [
        ("id", Serial, _params(primary_key=True)),
        ("key", Varchar, _params(length=160, default="")),
        ("at", Timestamptz, _params(default=TimestamptzNow())),
    ]:
        manager.add_column(table_class_name="LimitAttempt", tablename="limit_attempt",
                           column_name=name, db_column_name=name, column_class_name=cls.__name__,
                           column_class=cls, params=params, schema=None)
    return manager
