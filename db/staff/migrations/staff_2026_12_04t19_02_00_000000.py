"""sign_in_attempt is gone: staff sign-in counts its attempts in db/limits' limit_attempt.
Its rows are not copied (they count for 15 minutes; a deploy forgets at most that)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T19:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop sign_in_attempt"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="staff", description=DESCRIPTION)
    manager.drop_table(class_name="SignInAttempt", tablename="sign_in_attempt", schema=None)
    return manager
