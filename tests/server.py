"""Run the real server (`crm serve`) in a subprocess against the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(workers: int = 1, **env: str):
    port = free_port()
    crm = Path(sys.executable).with_name("crm")
    environment = {**os.environ, "CRM_LOG_LEVEL": "WARNING", "CRM_DB_POOL_SIZE": "4", **env}
    proc = subprocess.Popen(
        [str(crm), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers stop with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server did not start:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the server and every worker process, and wait until all are gone: a worker still
    closing its SQLite connection while the next test resets the file corrupts the reset."""
    group = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while True:
        proc.poll()  # reap the server itself: as a zombie it would keep its group alive forever
        try:
            os.killpg(group, signal.SIGKILL if time.monotonic() > deadline else 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    proc.wait()
