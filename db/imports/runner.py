"""The batch runner: a job's file, BATCH_ROWS rows per write transaction, set-based.

Each batch is parsed in Python first, then written in one `writing()` transaction: one
SELECT of the identities it names (IN lists), multi-row INSERT ... ON CONFLICT for new and
changed rows, the lifecycle refresh of the customers it touched, and the job's progress
(rows done, counts, the size of the rejected-rows file) in the same transaction. A process
killed halfway therefore leaves whole batches only, and `run_job` on the same job continues
after the last committed batch; re-importing the file from the start changes nothing that
is already there (customers upsert by mobile, else e-mail; orders on (channel, external_id)).
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
from pathlib import Path

from db.clock import now
from db.engine import is_unique_violation, writing
from db.imports import reader
from db.imports.batch import BatchResult, Counts, Importer
from db.imports.customer_batch import write_customers
from db.imports.order_batch import write_orders
from db.imports.rows import Context, neutralise, parse_row, reason
from db.customers.lifecycle import refresh_customers
from db.actor import Actor
from db.members.earning import settle_orders
from db.imports.tables import ImportJob

BATCH_ROWS = 1_000
REASON_HEADER = "原因/reason"


# ---------------------------------------------------------------- one batch


async def run_batch(ctx: Context, batch: list[list], who: Importer) -> BatchResult:
    """Parse and write one batch; the caller holds the write transaction."""
    result = BatchResult()
    parsed = []
    for cells in batch:
        record, errors = parse_row(ctx, cells)
        if errors:
            result.rejects.append((cells, reason(ctx, errors)))
        else:
            parsed.append((cells, record))
    if parsed:
        if ctx.kind == "customers":
            await write_customers(ctx, parsed, who, result)
        else:
            await write_orders(ctx, parsed, who, result)
    result.counts.rejected = len(result.rejects)
    if result.affected:
        await refresh_customers(sorted(result.affected))
    if result.order_ids:
        await settle_orders(result.order_ids, Actor(who.actor_id, f"import:{who.actor}"))
    return result


# ---------------------------------------------------------------- the rejected-rows file


class RejectsFile:
    """CSV (UTF-8 with BOM, so Excel opens it) of rejected rows: their cells and the reason.
    Its size is stored with each batch's progress, so a resumed job cuts off lines written
    by a batch that never committed."""

    def __init__(self, path: Path, headers: list[str], keep_bytes: int):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = keep_bytes <= 0 or not path.exists()
        self.fh = open(path, "w" if fresh else "r+", encoding="utf-8-sig" if fresh else "utf-8",
                       newline="")
        if fresh:
            csv.writer(self.fh).writerow([neutralise(h) for h in headers] + [REASON_HEADER])
        else:
            self.fh.seek(keep_bytes)
            self.fh.truncate()
        self.width = len(headers)
        self.fh.flush()

    def write(self, rejects: list[tuple[list, str]]) -> int:
        writer = csv.writer(self.fh)
        for cells, why in rejects:
            cells = list(cells[: self.width]) + [""] * (self.width - len(cells))
            writer.writerow([neutralise(c) for c in cells] + [why])
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return self.fh.tell()

    def cut(self, size: int) -> None:
        self.fh.seek(size)
        self.fh.truncate()

    def close(self) -> None:
        self.fh.close()


def rows_after(path: Path, file_format: str, encoding: str, skip: int):
    for index, cells in enumerate(reader.iter_rows(path, file_format, encoding)):
        if index >= skip:
            yield cells


def options_of(job: dict) -> dict:
    options = job.get("options") or {}
    return dict(options) if isinstance(options, dict) else json.loads(options)


async def process_file(job: dict, ctx: Context, who: Importer, on_batch=None) -> Counts:
    """Run a job's file from its last committed batch to the end (see the module doc)."""
    options = options_of(job)
    rejects = RejectsFile(Path(job["rejects_path"]), ctx.headers, int(options.get("rejects_bytes", 0)))
    if not options.get("rejects_bytes"):
        options["rejects_bytes"] = rejects.fh.tell()  # just the header line
    totals = Counts(job["created"], job["updated"], job["unchanged"], job["rejected"])
    processed = job["processed"]
    upcoming: asyncio.Future = asyncio.get_running_loop().create_future()
    upcoming.set_result([])
    try:
        rows = rows_after(Path(job["path"]), job["file_format"], job["encoding"], processed)

        def take() -> list[list]:
            return list(itertools.islice(rows, BATCH_ROWS))

        # The next batch is read in a thread while this one is written (SQLite and the
        # network wait release the GIL), one read at a time.
        upcoming = asyncio.ensure_future(asyncio.to_thread(take))
        while True:
            batch = await upcoming
            if not batch:
                break
            upcoming = asyncio.ensure_future(asyncio.to_thread(take))
            kept = int(options.get("rejects_bytes", 0))
            for attempt in range(3):
                try:
                    async with writing():
                        result = await run_batch(ctx, batch, who)
                        size = rejects.write(result.rejects)
                        options["rejects_bytes"] = size
                        done = Counts(**vars(totals))
                        done.add(result.counts)
                        await ImportJob.update({
                            ImportJob.processed: processed + len(batch),
                            ImportJob.created: done.created, ImportJob.updated: done.updated,
                            ImportJob.unchanged: done.unchanged, ImportJob.rejected: done.rejected,
                            ImportJob.options: json.dumps(options), ImportJob.heartbeat_at: now(),
                        }).where(ImportJob.id == job["id"])
                    break
                except Exception as exc:  # rolled back: so are this batch's rejected lines
                    options["rejects_bytes"] = kept
                    rejects.cut(kept)
                    if not is_unique_violation(exc) or attempt == 2:
                        raise  # a concurrent writer took an identity: read the batch again
            totals = done
            processed += len(batch)
            if on_batch:
                on_batch(processed)
    finally:
        if not upcoming.done():  # stopped by an error: let the read in flight finish first
            await asyncio.wait([upcoming])
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: the error that matters is the one raised here
        rejects.close()
    return totals
