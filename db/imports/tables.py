from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.staff.tables import StaffUser

IMPORT_KINDS = ("customers", "orders")
IMPORT_STATUSES = ("uploaded", "running", "done", "failed")


class ImportJob(Table):
    """One uploaded file and its import: state lives here so a restart loses nothing."""

    id = Serial(primary_key=True)
    kind = Varchar(length=10)
    filename = Varchar(length=200)
    path = Text()  # the stored upload, under the data directory
    file_format = Varchar(length=8)  # csv | xlsx
    encoding = Varchar(length=16, default="")
    mapping = Text(default="{}")  # JSON: file column -> field
    options = Text(default="{}")  # JSON: e.g. the default channel for orders
    headers = Text(default="[]")  # JSON: the file's column names, read at upload
    sample = Text(default="[]")  # JSON: its first data rows (db.imports.values.dump_cells)
    status = Varchar(length=12, default="uploaded", index=True)
    total_rows = Integer(default=0)
    processed = Integer(default=0)
    created = Integer(default=0)
    updated = Integer(default=0)
    unchanged = Integer(default=0)
    rejected = Integer(default=0)
    rejects_path = Text(default="")
    error = Text(default="")
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    heartbeat_at = Timestamptz(null=True, default=None)  # stamped per batch while running
