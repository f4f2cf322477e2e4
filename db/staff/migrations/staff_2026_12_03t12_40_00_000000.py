"""A TOTP code works once per account: the step of the last code that signed in."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T12:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff_user.totp_last_step"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="staff", description=DESCRIPTION)
    manager.add_column(
        table_class_name="StaffUser",
        tablename="staff_user",
        column_name="totp_last_step",
        db_column_name="totp_last_step",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
