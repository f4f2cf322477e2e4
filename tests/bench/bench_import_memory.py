"""Import memory (issue 11, finding 4): peak memory of the app while a large XLSX is
uploaded, mapped and previewed, with four parallel views of the job and its preview.

    python -m tests.bench.bench_import_memory [--rows 1000000] [--notes 2] [--big-notes 7]

Run from the repository root with a throw-away database (CRM_DATABASE_URL, CRM_DATA_DIR;
by default a fresh SQLite database in a temporary folder). It writes two sheets as streams
in a child process (so their writing does not count): one of about 870 MB unpacked, like
the finding's file, which must be refused at once as over the 500 MB sheet limit, and one
just under the limit (1,000,000 rows, about 440 MB unpacked), which must be accepted. For
each it goes through the app in this process (web.app.create_app(), Litestar's test client):
upload, the mapping page, saving the mapping, the preview, then four mapping pages and four
previews at once. It prints each step's time and the process's peak resident memory
(VmHWM) after it. Target: peak under 500 MB. Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

TARGET_MB = 500
_TMP = tempfile.mkdtemp(prefix="bench-import-memory-")
os.environ.setdefault("CRM_DATA_DIR", str(Path(_TMP) / "data"))
os.environ.setdefault("CRM_DATABASE_URL", f"sqlite:///{_TMP}/crm.sqlite3")
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
for _name in ("CRM_NIGHTLY_AT", "CRM_REMINDERS", "CRM_PUSH_SENDER"):
    os.environ.setdefault(_name, "off")

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def peak_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(path: Path, rows: int, notes: int) -> tuple[int, int]:
    code = ("from pathlib import Path; from tests.import_helpers import write_big_xlsx; "
            f"write_big_xlsx(Path({str(path)!r}), {rows}, notes={notes})")
    subprocess.run([sys.executable, "-c", code], check=True)
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    return info.file_size, path.stat().st_size


async def walk(client, path: Path, label: str) -> bool:
    page = await client.get("/import")
    token = CSRF.search(page.text).group(1)
    t = time.perf_counter()
    with open(path, "rb") as fh:
        sent = await client.post("/import", data={"kind": "orders", "_csrf_token": token},
                                 files={"file": (path.name, fh, "application/octet-stream")},
                                 follow_redirects=False)
    print(f"  {label}: upload {time.perf_counter() - t:6.2f} s -> {sent.status_code}; "
          f"peak {peak_mb():6.0f} MB, now {rss_mb():6.0f} MB")
    if sent.status_code != 303:
        message = re.search(r'id="f-file-error">.*?<span>(.*?)</span>', sent.text, re.S)
        print(f"    refused: {message.group(1) if message else sent.text[:200]}")
        return False
    url = sent.headers["location"]
    steps = [("mapping page", lambda: client.get(url))]
    mapping = await client.get(url)
    selects = re.findall(r'<select[^>]*name="(col\d+)"[^>]*>(.*?)</select>', mapping.text, re.S)
    form = {name: (re.search(r'<option value="([^"]*)" selected>', body) or [None, ""])[1]
            for name, body in selects}
    form["channel"] = "tmall"
    form["_csrf_token"] = CSRF.search(mapping.text).group(1)
    steps += [
        ("save mapping", lambda: client.post(f"{url}/mapping", data=form, follow_redirects=False)),
        ("preview", lambda: client.get(f"{url}/preview")),
        ("4 mapping + 4 previews at once", lambda: asyncio.gather(
            *(client.get(url) for _ in range(4)), *(client.get(f"{url}/preview") for _ in range(4)))),
    ]
    for name, step in steps:
        t = time.perf_counter()
        result = await step()
        codes = sorted({r.status_code for r in (result if isinstance(result, list) else [result])})
        print(f"  {label}: {name:<32} {time.perf_counter() - t:6.3f} s -> {codes}; "
              f"peak {peak_mb():6.0f} MB, now {rss_mb():6.0f} MB")
    return True


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--notes", type=int, default=1, help="extra columns of the accepted sheet")
    parser.add_argument("--big-notes", type=int, default=7, help="extra columns of the 870 MB sheet")
    args = parser.parse_args()

    folder = Path(_TMP)
    big, ok = folder / "finding.xlsx", folder / "under-limit.xlsx"
    t = time.perf_counter()
    sizes = {big: build(big, args.rows, args.big_notes), ok: build(ok, args.rows, args.notes)}
    print(f"built the sheets in {time.perf_counter() - t:.0f} s (child process):")
    for path, (unpacked, packed) in sizes.items():
        print(f"  {path.name}: {args.rows:,} rows, sheet {unpacked / 2**20:,.0f} MB unpacked, "
              f"file {packed / 2**20:,.0f} MB")

    from litestar.testing import AsyncTestClient

    from db.staff.accounts import create_user, start_session
    from web.app import create_app
    from web.cli import _migrate

    await _migrate()
    app = create_app()
    print(f"engine {os.environ['CRM_DATABASE_URL'].split(':')[0]}; before: peak {peak_mb():.0f} MB")
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        user_id = await create_user(f"bench-import-{os.getpid()}", "x" * 24 + "Aa1!", "admin", None, "bench")
        client.cookies.set("crm_session", await start_session(user_id, "", "127.0.0.1", "bench"))
        await walk(client, big, "870 MB sheet")
        accepted = await walk(client, ok, "under the limit")
    peak = peak_mb()
    print(f"peak resident memory of this process: {peak:.0f} MB (target under {TARGET_MB} MB); "
          f"the accepted sheet {'was' if accepted else 'was NOT'} accepted")
    return 0 if peak < TARGET_MB and accepted else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
