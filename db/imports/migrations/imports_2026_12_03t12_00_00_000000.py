"""import_job.headers and import_job.sample: the file's column names and first rows, stored
at upload, so the mapping page and the preview never read the file again (a large sheet was
parsed once per page view)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import job headers and sample rows"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="imports", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl("ALTER TABLE import_job ADD COLUMN headers TEXT NOT NULL DEFAULT '[]'")
        await engine.run_ddl("ALTER TABLE import_job ADD COLUMN sample TEXT NOT NULL DEFAULT '[]'")

    manager.add_raw(run)
    return manager
