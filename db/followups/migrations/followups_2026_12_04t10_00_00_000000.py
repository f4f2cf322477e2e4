"""A completed follow-up's outcome as a code (outcome_code, shown translated) beside the
free text (outcome: what happened, in the person's words), and a note on a follow-up (what
the visit or completion that planned it said, shown on Today)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "follow-up outcome codes and notes"


def _params(default, **extra) -> dict:
    return {"default": default, "null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None,
            "secret": False, **extra}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="followups", description=DESCRIPTION)
    manager.add_column(
        table_class_name="FollowUp", tablename="follow_up", column_name="outcome_code",
        db_column_name="outcome_code", column_class_name="Varchar", column_class=Varchar,
        params=_params("", length=20), schema=None,
    )
    manager.add_column(
        table_class_name="FollowUp", tablename="follow_up", column_name="note",
        db_column_name="note", column_class_name="Text", column_class=Text,
        params=_params(""), schema=None,
    )
    return manager
