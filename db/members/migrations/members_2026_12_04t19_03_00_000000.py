"""member_sign_in_event is gone: member sign-in counts its sends, failures and locks in
db/limits' limit_attempt. Its rows are not copied (they count for an hour at most; a deploy
forgets at most that)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T19:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop member_sign_in_event"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)
    manager.drop_table(class_name="MemberSignInEvent", tablename="member_sign_in_event",
                       schema=None)
    return manager
