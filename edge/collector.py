"""`edgestats collect`: a local CloudFront, so the real edge code runs on a laptop.

Each HTTP request becomes the viewer-request event CloudFront would hand to
Lambda@Edge (include-body on, so POST bodies ride along base64-encoded), the same
`edge.handler.handler` runs on it, and the events go through the local Firehose
emulator into `$EDGESTATS_HOME/landing`.  A generated response (pixel GIF, beacon
204, CORS preflight) is sent as CloudFront would send it; a request the handler lets
through gets what a tiny origin answers: 200 with a small HTML page for page paths,
404 for asset paths (`/app.js`, `/logo.png`), 405 for other methods.

`CloudFront-Viewer-*` request headers are honoured as if CloudFront had added them (a
load generator can play visitors from many countries); without
`CloudFront-Viewer-Address` the client IP is the socket peer.

Durability: a 200/204 (or a page's 200) to a request that made an event is sent only
once the event is in the write-ahead log `$EDGESTATS_HOME/wal/` and fdatasync'd
(edge/wal.py), so it survives SIGKILL and a power cut; the next start lands whatever a
killed collector left there, exactly once.  A request that makes no event (an asset, a
skipped or failed-open hit) is answered at once, after the answers before it on its
connection.  If the log cannot be written, the requests whose events it could not keep
are answered 503 with Retry-After.

Speed: one process, an asyncio protocol on uvloop (when installed) with the httptools
parser; the handler runs inline (a put is an in-memory append), the write-ahead log's
thread group-commits (one fdatasync for every request that arrived during the previous
one) and the emulator's background thread does gzip and fsync.  SIGTERM or Ctrl-C stops
accepting, answers what is committed, then flushes every buffered event to landing
objects before exiting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gc
import logging
import os
import secrets
import signal
import sys
from collections import deque
from http import HTTPStatus

import httptools

from edge import handler as edge_handler
from edge.config import ConfigError, EdgeConfig, Settings
from edge.firehose import LocalFirehose
from edge.normalize import is_page_path, normalise_path
from edge.salts import FileSaltStore
from edge.wal import WalBusy, WriteAheadLog

DISTRIBUTION_DOMAIN = "d111111abcdef8.cloudfront.net"
DISTRIBUTION_ID = "EDGESTATSLOCAL"
VIEWER_BODY_LIMIT = 40 * 1024  # CloudFront truncates include-body at 40 KB on viewer request
MAX_URL_BYTES = 8192  # CloudFront's limit on the request URL
MAX_HEADER_BYTES = 20 * 1024  # CloudFront's limit on all request headers together
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DRAIN_SECONDS = 10.0  # on SIGTERM, how long answers may wait for their last commit

PAGE_HTML = (
    b"<!doctype html><html><head><meta charset=utf-8><title>edgestats collector</title>"
    b"</head><body><p>edgestats local collector: this page view was recorded.</p></body></html>"
)
NOT_FOUND_HTML = b"<!doctype html><title>404</title><p>not found</p>"

log = logging.getLogger("edgestats.collector")


def cloudfront_event(method: str, uri: str, querystring: str, headers: list[tuple[str, str]],
                     client_ip: str, body: bytes | None, request_id: str) -> dict:
    """The Lambda@Edge viewer-request event CloudFront would build for this request."""
    cf_headers: dict[str, list[dict[str, str]]] = {}
    for name, value in headers:
        cf_headers.setdefault(name.lower(), []).append({"key": name, "value": value})
    request: dict = {
        "clientIp": client_ip,
        "headers": cf_headers,
        "method": method,
        "querystring": querystring,
        "uri": uri,
    }
    if body is not None:
        request["body"] = {
            "inputTruncated": len(body) > VIEWER_BODY_LIMIT,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(body[:VIEWER_BODY_LIMIT]).decode("ascii"),
        }
    return {"Records": [{"cf": {
        "config": {
            "distributionDomainName": DISTRIBUTION_DOMAIN,
            "distributionId": DISTRIBUTION_ID,
            "eventType": "viewer-request",
            "requestId": request_id,
        },
        "request": request,
    }}]}


_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("ascii") for s in HTTPStatus}


def _status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode("ascii")


class RequestIds:
    """CloudFront-like 56-character request ids: a random prefix per run and a counter.

    A counter instead of `secrets` per request: getrandom costs a few microseconds.
    """

    def __init__(self) -> None:
        self.prefix = secrets.token_urlsafe(33)  # 44 characters
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:012x}"


next_request_id = RequestIds()


def http_response(status: int, headers: list[tuple[str, str]], body: bytes,
                  keep_alive: bool, head: bool = False) -> bytes:
    lines = [_status_line(status)]
    for name, value in headers:
        lines.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    if status not in (204, 304):
        lines.append(b"Content-Length: %d\r\n" % len(body))
    if not keep_alive:
        lines.append(b"Connection: close\r\n")
    lines.append(b"Server: edgestats-collector\r\n\r\n")
    if not head and status not in (204, 304):
        lines.append(body)
    return b"".join(lines)


def generated_response(response: dict, keep_alive: bool, head: bool) -> bytes:
    """Serialise a Lambda@Edge generated response the way CloudFront would."""
    try:
        status = int(response.get("status", 200))
    except (TypeError, ValueError):
        status = 502  # CloudFront answers 502 to an invalid generated response
    headers = []
    for entries in (response.get("headers") or {}).values():
        for entry in entries:
            if entry.get("key", "").lower() not in ("content-length", "connection"):
                headers.append((entry["key"], entry["value"]))
    raw = response.get("body") or ""
    if response.get("bodyEncoding") == "base64":
        body = base64.b64decode(raw)
    else:
        body = raw.encode("utf-8")
    return http_response(status, headers, body, keep_alive, head)


def origin_response(method: str, uri: str, keep_alive: bool) -> bytes:
    """What the tiny origin behind the local CloudFront answers."""
    if method not in ("GET", "HEAD"):
        return _origin_bytes(405, keep_alive, False)
    status = 200 if is_page_path(normalise_path(uri)) else 404
    return _origin_bytes(status, keep_alive, method == "HEAD")


@functools.cache
def _origin_bytes(status: int, keep_alive: bool, head: bool) -> bytes:
    """The origin's answers never vary, so each is serialised once."""
    if status == 405:
        return http_response(405, [("Allow", "GET, HEAD")], b"", keep_alive)
    if status == 404:
        return http_response(404, [("Content-Type", "text/html; charset=utf-8")],
                             NOT_FOUND_HTML, keep_alive, head)
    return http_response(200, [("Content-Type", "text/html; charset=utf-8"),
                               ("Cache-Control", "no-cache")], PAGE_HTML, keep_alive, head)


def respond(method: str, url: str, headers: list[tuple[str, str]], peer_ip: str,
            body: bytes | None, keep_alive: bool) -> bytes:
    """One HTTP request through the edge handler, as CloudFront plus a tiny origin."""
    if url.startswith("/"):
        uri, _, query = url.partition("?")
    else:  # absolute-form request target
        parsed = httptools.parse_url(url.encode("latin-1"))
        uri = (parsed.path or b"/").decode("latin-1")
        query = (parsed.query or b"").decode("latin-1")
    event = cloudfront_event(method, uri, query, headers, peer_ip,
                             body if method in BODY_METHODS else None,
                             next_request_id())
    request = event["Records"][0]["cf"]["request"]
    address = request["headers"].get("cloudfront-viewer-address")
    if address:  # CloudFront's clientIp is the viewer address it puts in that header
        request["clientIp"] = edge_handler.ip_from_viewer_address(address[0]["value"]) or peer_ip
    result = edge_handler.handler(event, None)
    if result is request or not isinstance(result, dict) or "status" not in result:
        return origin_response(method, uri, keep_alive)
    return generated_response(result, keep_alive, method == "HEAD")


class HttpConnection(asyncio.Protocol):
    """One client connection: httptools parses, `respond` answers, in order (pipelining ok)."""

    def __init__(self, server: CollectorServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer_ip = "127.0.0.1"
        self.waiting = 0  # answers of this connection held for a commit
        self.closing = False  # a `Connection: close` answer is due: read nothing more
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.header_bytes = 0
        self.body = bytearray()
        self.too_large = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer_ip = peer[0]
        self.server.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.server.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400)
        except httptools.HttpParserError:
            self._fail(400)

    def _fail(self, status: int) -> None:
        """Answer and close, after the answers this connection already owes."""
        if self.transport is not None and not self.closing:
            self.server.answer(self, http_response(status, [], b"", keep_alive=False),
                               False, None)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_URL_BYTES:
            self.too_large = 414

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > MAX_HEADER_BYTES:
            self.too_large = 431
        else:
            self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        for name, value in self.headers:
            if name.lower() == "expect" and value.lower() == "100-continue" and self.transport:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if len(self.body) <= VIEWER_BODY_LIMIT:
            self.body += body

    def on_message_complete(self) -> None:
        if self.transport is None or self.closing:
            return
        keep_alive = self.parser.should_keep_alive()
        if self.too_large:
            self._fail(self.too_large)
            return
        method = self.parser.get_method().decode("ascii", "replace")
        server = self.server
        server.requests += 1
        appended = server.wal.appended
        try:
            out = respond(method, self.url.decode("latin-1"), self.headers, self.peer_ip,
                          bytes(self.body) if self.body else b"", keep_alive)
        except Exception as e:  # the handler fails open; this is the collector's own bug
            log.error("edgestats collector could not answer a request: %s", type(e).__name__)
            out = http_response(500, [], b"", keep_alive=False)
            keep_alive = False
        record = server.wal.appended
        server.answer(self, out, keep_alive, record if record != appended else None)

    def send(self, out: bytes, keep_alive: bool) -> None:
        if self.transport is not None:
            self.transport.write(out)
            if not keep_alive:
                self.transport.close()


def not_kept_response(keep_alive: bool) -> bytes:
    """The answer when the write-ahead log could not keep the request's event."""
    return http_response(503, [("Retry-After", "1"), ("Cache-Control", "no-store")], b"",
                         keep_alive)


class CollectorServer:
    """Connections, and the answers held until the write-ahead log has committed them."""

    def __init__(self, wal: WriteAheadLog) -> None:
        self.connections: set[HttpConnection] = set()
        self.requests = 0
        self.not_kept = 0
        self.server: asyncio.base_events.Server | None = None
        self.wal = wal
        # (record number to wait for, connection, answer, keep-alive, made an event),
        # in the order the requests were handled, so the numbers never decrease.
        self.held: deque[tuple[int, HttpConnection, bytes, bool, bool]] = deque()
        self.drained: asyncio.Event | None = None

    def answer(self, conn: HttpConnection, out: bytes, keep_alive: bool,
               record: int | None) -> None:
        """Send now, or once `record` (this request's event) is durable.

        An answer without an event still waits behind its connection's held answers:
        HTTP/1.1 answers pipelined requests in order.
        """
        if not keep_alive:
            conn.closing = True
        if record is None and not conn.waiting:
            conn.send(out, keep_alive)
            return
        conn.waiting += 1
        self.held.append((self.wal.appended if record is None else record, conn, out,
                          keep_alive, record is not None))

    def committed(self, upto: int, failed: frozenset[int]) -> None:
        """The write-ahead log's report (on the loop): send every answer now kept."""
        held = self.held
        while held and held[0][0] <= upto:
            record, conn, out, keep_alive, made_event = held.popleft()
            conn.waiting -= 1
            if made_event and record in failed:
                self.not_kept += 1
                out = not_kept_response(keep_alive)
            conn.send(out, keep_alive)
        if not held and self.drained is not None:
            self.drained.set()

    async def drain(self) -> None:
        """Wait (bounded) until every held answer is sent."""
        if not self.held:
            return
        self.drained = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained.wait(), DRAIN_SECONDS)

    async def serve(self, host: str, port: int, on_ready, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.server = await loop.create_server(lambda: HttpConnection(self), host, port,
                                                   reuse_address=True, backlog=1024)
        except OSError as e:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({os.strerror(e.errno) if e.errno else e}); "
                "pick another --port (0 picks a free one)"
            ) from None
        on_ready(self.server.sockets[0].getsockname()[1])
        await stop.wait()
        self.server.close()
        for conn in list(self.connections):
            conn.closing = True  # answer what was asked, read nothing new
        await self.drain()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0)


def _size(n: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def _run_loop(coro_factory) -> None:
    try:
        import uvloop
    except ImportError:  # the stdlib loop works, only slower
        asyncio.run(coro_factory())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro_factory())


def run_cli(args, settings: Settings) -> int:
    host, port = args.host, args.port
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; use 0-65535 (0 picks a free one)")
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    # Long-lived startup objects (UA regexes, modules) out of the collector's way, and
    # fewer young-generation passes: both cut latency spikes under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    wal = WriteAheadLog(settings.wal)
    try:
        wal.open()
    except WalBusy as e:
        raise ConfigError(str(e)) from None
    firehose = LocalFirehose(
        settings.landing,
        stream=settings.firehose_stream,
        buffer_bytes=settings.firehose_buffer_bytes,
        buffer_seconds=settings.firehose_buffer_seconds,
        journal=wal,
    )
    try:
        replayed = wal.replay(settings.landing, firehose.deliver_records)
    except BaseException:
        wal.close()
        raise
    wal.start()
    firehose.start()
    edge_handler.configure(sink=firehose, salts=FileSaltStore(settings.salt_file),
                           config=EdgeConfig.load())
    server = CollectorServer(wal)

    def ready(bound_port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(
            f"collecting on http://{shown}:{bound_port} -> {settings.landing} "
            f"(buffer {settings.firehose_buffer_seconds:g} s / "
            f"{_size(settings.firehose_buffer_bytes)}; write-ahead log {settings.wal})",
            flush=True,
        )
        if replayed[0]:
            print(f"replayed {replayed[1]} events a collector that did not stop cleanly left "
                  f"in the write-ahead log ({replayed[0]} segments) into the landing zone",
                  flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_commit(upto: int, failed: frozenset[int]) -> None:  # the WAL's thread
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(server.committed, upto, failed)

        wal.on_commit = on_commit
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await server.serve(host, port, ready, stop)

    try:
        _run_loop(main)
    finally:
        wal.on_commit = None
        try:
            firehose.close()  # every buffer becomes its object, then its segment goes
        finally:
            wal.close()
            edge_handler.configure(sink=None)
    sent = sum(v for k, v in edge_handler.stats.items() if k.startswith("sent:"))
    print(f"stopped after {server.requests} requests: {sent} events, "
          f"{len(firehose.objects_written)} objects under {settings.landing}, "
          f"{wal.commits} write-ahead commits"
          + (f", {server.not_kept} answered 503 (not kept)" if server.not_kept else ""),
          flush=True)
    return 0
