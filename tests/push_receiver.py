"""A local push service for tests and benchmarks: records every request and answers each
endpoint path from a script.

    async with PushReceiver() as rx:
        url = rx.endpoint("/phone-1")          # an endpoint URL to subscribe with
        rx.script("/phone-1", 500, 201)          # first a server error, then success
        rx.script("/gone", 410)
        rx.script("/busy", Step(429, {"Retry-After": "1"}))
        rx.script("/slow", Step(201, delay=5))   # longer than the sender's timeout
        ...
        rx.requests_to("/phone-1")               # [Received(path, headers, body, status), ...]

Steps are used one per request, in order; after the last one (or with no script) the answer
is 201 Created, as real push services give. aiohttp.web on the caller's event loop: tens of
thousands of requests a minute on one core.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Step:
    status: int = 201
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict  # lower-case names
    body: bytes
    status: int
    at: float  # time.monotonic() on arrival


class PushReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.requests: list[Received] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.record_bodies = True  # benchmarks switch it off to keep memory flat
        self._scripts: dict[str, list[Step]] = {}
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------- set-up

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def endpoint(self, path: str) -> str:
        return self.origin + path

    def script(self, path: str, *steps: int | Step) -> None:
        self._scripts[path] = [s if isinstance(s, Step) else Step(s) for s in steps]

    async def start(self) -> "PushReceiver":
        app = web.Application(client_max_size=8192)
        app.router.add_get("/__stats", self._stats)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> "PushReceiver":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ---------------------------------------------------------- reading what arrived

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` requests have arrived in all (raises TimeoutError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while sum(self.counts.values()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(self.counts.values())} of {count} push requests arrived")
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------- serving

    async def _stats(self, request: web.Request) -> web.Response:
        """Counts for a receiver in another process (the benchmark's --receiver-process)."""
        total = sum(self.counts.values())
        duplicates = sum(n - 1 for n in self.counts.values() if n > 1)
        return web.json_response({"total": total, "paths": len(self.counts),
                                  "duplicates": duplicates})

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        steps = self._scripts.get(request.path)
        step = steps.pop(0) if steps else Step()
        self.counts[request.path] += 1
        if self.record_bodies:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(Received(request.path, headers, body, step.status,
                                          time.monotonic()))
        if step.delay:
            await asyncio.sleep(step.delay)
        return web.Response(status=step.status, headers=step.headers)


async def _serve(port: int) -> None:
    receiver = PushReceiver(port=port)
    receiver.record_bodies = False
    await receiver.start()
    print(receiver.origin, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":  # python -m tests.push_receiver PORT: a receiver in its own process
    import sys

    asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
