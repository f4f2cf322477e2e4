"""Writing the generated batches fast: executemany on a plain sqlite3 connection (search index
rebuilt once), COPY on PostgreSQL (id sequences moved past the loaded ids)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

from db.demo.generator import BULK_TABLES, CustomerGenerator, insert_sql
from db.engine import BUSY_TIMEOUT_S, engine

BATCH_CUSTOMERS = 5_000
Progress = Callable[[str, int, int], None]  # (step, done, total)
STEP_CUSTOMERS = "Customers"
STEP_SEARCH = "Search index"
STEP_STATISTICS = "Statistics"


def batches(gen: CustomerGenerator, total: int, progress: Progress | None):
    done = 0
    if progress:
        progress(STEP_CUSTOMERS, 0, total)
    while done < total:
        size = min(BATCH_CUSTOMERS, total - done)
        yield gen.batch(size)
        done += size
        if progress:
            progress(STEP_CUSTOMERS, done, total)


def load_sqlite(
    path: str, gen: CustomerGenerator, total: int, progress: Progress | None
) -> dict[str, int]:
    """One transaction on a plain sqlite3 connection; FTS rebuilt once at the end."""
    counts = dict.fromkeys(("customer", "order", "customer_tag", "interaction"), 0)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        # Connection-level settings: they end with this connection.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN IMMEDIATE")
        try:
            has_fts = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'customer_search'"
            ).fetchone() is not None
            # The triggers that keep the search index: dropped inside this transaction and
            # recreated from their own stored SQL, so a failed load rolls back to them.
            triggers = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'customer' AND sql LIKE '%customer_search%' ORDER BY name"
            ).fetchall() if has_fts else []
            for name, _ in triggers:
                conn.execute(f'DROP TRIGGER "{name}"')
            statements = [(key, insert_sql(key, cols)) for key, cols in BULK_TABLES]
            for batch in batches(gen, total, progress):
                for (key, sql), rows in zip(statements, (
                    batch.customers, batch.orders, batch.customer_tags, batch.interactions,
                )):
                    conn.executemany(sql, rows)
                    counts[key] += len(rows)
            if has_fts:
                if progress:
                    progress(STEP_SEARCH, 0, 1)
                conn.execute("INSERT INTO customer_search(customer_search) VALUES ('rebuild')")
                for _, sql in triggers:
                    conn.execute(sql)
                if progress:
                    progress(STEP_SEARCH, 1, 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # give the disk back the WAL's space
    finally:
        conn.close()
    return counts


async def load_postgres(gen: CustomerGenerator, total: int, progress: Progress | None) -> dict[str, int]:
    """One transaction of COPYs on a new asyncpg connection; sequences moved past our ids.

    The next batch is generated in a worker thread while the server digests the current one.
    """
    counts = dict.fromkeys(("customer", "order", "customer_tag", "interaction"), 0)
    sizes = [min(BATCH_CUSTOMERS, total - start) for start in range(0, total, BATCH_CUSTOMERS)]
    conn = await engine().get_new_connection()
    try:
        async with conn.transaction():
            if progress:
                progress(STEP_CUSTOMERS, 0, total)
            done = 0
            pending = None
            for i, size in enumerate(sizes):
                batch = await (pending or asyncio.to_thread(gen.batch, size))
                pending = (asyncio.ensure_future(asyncio.to_thread(gen.batch, sizes[i + 1]))
                           if i + 1 < len(sizes) else None)
                for (key, cols), rows in zip(BULK_TABLES, (
                    batch.customers, batch.orders, batch.customer_tags, batch.interactions,
                )):
                    if rows:
                        await conn.copy_records_to_table(key, records=rows, columns=list(cols))
                    counts[key] += len(rows)
                done += size
                if progress:
                    progress(STEP_CUSTOMERS, done, total)
            for key, _ in BULK_TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{key}\"', 'id'), max(id)) "
                    f'FROM "{key}" HAVING max(id) IS NOT NULL'
                )
        if progress:
            progress(STEP_STATISTICS, 0, 1)
        await conn.execute('ANALYZE customer, "order", customer_tag, interaction')
        if progress:
            progress(STEP_STATISTICS, 1, 1)
    finally:
        await conn.close()
    return counts
