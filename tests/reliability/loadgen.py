"""A cheap load generator for `edgestats collect`, shared by the reliability tests and benches.

The collector is the thing under test, so the client must cost little CPU on a shared
2-core machine: requests are pre-built bytes, each connection pipelines a window of
them in one write, and httptools (C) parses the answers.  Every request carries a
unique marker in its page path (`/load/<n>` for pages, `/px/<n>` for the pixel,
`/bc/<n>` for the beacon), so a test can match landed events to answered requests
one by one instead of only comparing counts.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httptools

ROOT = Path(__file__).resolve().parents[2]
SITE = "load.example"
KINDS = ("edge", "pixel", "beacon")  # the event's `ingest` for each kind of request
MARKER = {"edge": "/load/", "pixel": "/px/", "beacon": "/bc/"}
_MARKER_PATH = re.compile(r"^/(load|px|bc)/(\d+)$")
_KIND_OF_PREFIX = {"load": "edge", "px": "pixel", "bc": "beacon"}

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


@dataclass
class Request:
    n: int
    kind: str  # edge | pixel | beacon
    raw: bytes


def request_mix(count: int, seed: int = 1, first: int = 0) -> list[Request]:
    """`count` requests numbered from `first`: 70% page views, 20% pixel hits (some custom
    events), 10% beacons."""
    rnd = random.Random(seed)
    out = []
    for n in range(first, first + count):
        ua = USER_AGENTS[n % len(USER_AGENTS)]
        ip = f"203.0.113.{1 + n % 250}"
        common = (f"Host: {SITE}\r\nUser-Agent: {ua}\r\n"
                  f"CloudFront-Viewer-Address: {ip}:{40000 + n % 20000}\r\n"
                  "CloudFront-Viewer-Country: DE\r\n")
        r = rnd.random()
        if r < 0.7:
            kind = "edge"
            raw = f"GET /load/{n}?utm_source=load HTTP/1.1\r\n{common}\r\n".encode()
        elif r < 0.9:
            kind = "pixel"
            u = quote(f"https://{SITE}/px/{n}", safe="")
            name = "&n=download" if n % 4 == 0 else ""
            raw = f"GET /_e/p.gif?u={u}&r={name} HTTP/1.1\r\n{common}\r\n".encode()
        else:
            kind = "beacon"
            body = json.dumps({"u": f"https://{SITE}/bc/{n}", "r": None}).encode()
            raw = (f"POST /_e/collect HTTP/1.1\r\n{common}Content-Type: text/plain\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        out.append(Request(n, kind, raw))
    return out


@dataclass
class LoadResult:
    answered: dict[int, int] = field(default_factory=dict)  # request n -> HTTP status
    sent: set[int] = field(default_factory=set)  # written to a socket (maybe never answered)
    seconds: float = 0.0
    errors: Counter = field(default_factory=Counter)

    def accepted(self) -> set[int]:
        return {n for n, status in self.answered.items() if status in (200, 204)}


class _Connection(asyncio.Protocol):
    """One keep-alive connection: write a window of requests at once, read their answers."""

    def __init__(self, requests: list[Request], window: int, result: LoadResult,
                 on_answer, done: asyncio.Future):
        self.requests = requests
        self.window = window
        self.result = result
        self.on_answer = on_answer
        self.done = done
        self.next = 0
        self.inflight: deque[int] = deque()
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.stopped = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send_window()

    def _send_window(self) -> None:
        batch = self.requests[self.next:self.next + self.window]
        if not batch or self.stopped:
            self.transport.close()
            return
        self.next += len(batch)
        self.inflight.extend(r.n for r in batch)
        self.result.sent.update(r.n for r in batch)
        self.transport.write(b"".join(r.raw for r in batch))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self.result.errors[f"parse:{type(e).__name__}"] += 1
            self.transport.close()

    def on_message_complete(self) -> None:
        n = self.inflight.popleft()
        self.result.answered[n] = self.parser.get_status_code()
        if self.on_answer(len(self.result.answered)):
            self.stopped = True
        if not self.inflight:
            self._send_window()

    def connection_lost(self, exc) -> None:
        if exc is not None:
            self.result.errors[type(exc).__name__] += 1
        if not self.done.done():
            self.done.set_result(None)


async def run_load(port: int, requests: list[Request], connections: int = 8, window: int = 32,
                   stop_after: int | None = None, on_stop=None) -> LoadResult:
    """Send `requests` over `connections` pipelined connections to 127.0.0.1:`port`.

    With `stop_after`, `on_stop()` is called once that many answers have arrived (the
    SIGKILL test kills the collector there) and no further windows are sent.
    """
    loop = asyncio.get_running_loop()
    result = LoadResult()
    fired = False

    def on_answer(count: int) -> bool:
        nonlocal fired
        if stop_after is not None and count >= stop_after:
            if not fired:
                fired = True
                if on_stop is not None:
                    on_stop()
            return True
        return False

    dones = []
    started = time.perf_counter()
    for i in range(connections):
        done = loop.create_future()
        dones.append(done)
        share = requests[i::connections]
        await loop.create_connection(
            lambda share=share, done=done: _Connection(share, window, result, on_answer, done),
            "127.0.0.1", port)
    await asyncio.gather(*dones)
    result.seconds = time.perf_counter() - started
    return result


def load(port: int, requests: list[Request], **kw) -> LoadResult:
    """`run_load` on uvloop (what the collector uses too) from synchronous code."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_load(port, requests, **kw))


# ---------------------------------------------------------------- the collector process


class CollectorProcess:
    """`edgestats collect --port 0` as a subprocess with its own EDGESTATS_HOME."""

    def __init__(self, home: Path, env: dict[str, str] | None = None,
                 python_prelude: str | None = None, log_name: str = "collector.log"):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
        full_env["EDGESTATS_HOME"] = str(home)
        full_env.update(env or {})
        if python_prelude:  # e.g. set the handler's clock, then run the real command
            code = (f"{python_prelude}\nimport sys\nfrom orchestration.cli import main\n"
                    "sys.exit(main(['collect', '--port', '0']))")
            argv = [sys.executable, "-c", code]
        else:
            argv = [sys.executable, "-m", "orchestration.cli", "collect", "--port", "0"]
        self.log = home / log_name
        self._log_file = open(self.log, "w")  # noqa: SIM115 - closed in wait()
        # Unbuffered: `communicate` reads the pipe's fd itself, so whatever a buffered
        # reader had taken past the first line would be lost.
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                                     stderr=self._log_file, bufsize=0)
        self.first_line = self.proc.stdout.readline().decode()
        m = re.match(r"collecting on http://127\.0\.0\.1:(\d+) -> ", self.first_line)
        if not m:
            self.proc.kill()
            self.wait()
            raise AssertionError(f"collector did not start: {self.first_line!r} "
                                 f"{self.log.read_text()[-2000:]}")
        self.port = int(m.group(1))

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        raw, _ = self.proc.communicate(timeout=timeout)
        out = (raw or b"").decode()
        self._log_file.close()
        with open(self.log, "a") as f:  # keep everything it printed, for the privacy scan
            f.write(self.first_line + (out or ""))
        return self.proc.returncode, self.first_line + (out or "")

    def kill_now(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def landed_objects(landing: Path) -> list[Path]:
    return sorted(landing.glob("events/dt=*/*.gz"))


def landed_events(landing: Path) -> list[dict]:
    return [json.loads(line) for p in landed_objects(landing)
            for line in gzip.decompress(p.read_bytes()).splitlines()]


def marker(event: dict) -> tuple[str, int] | None:
    """(kind, n) of a load-generator event, from its unique path."""
    m = _MARKER_PATH.match(event.get("path") or "")
    if not m:
        return None
    return _KIND_OF_PREFIX[m.group(1)], int(m.group(2))
