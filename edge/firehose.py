"""Firehose sinks: the real one (boto3 PutRecord) and a local emulator.

The emulator writes what Kinesis Data Firehose would write to S3 with the prefixes
edgestats deploys: `events/dt=!{timestamp:yyyy-MM-dd}/` and
`errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`, objects named
`<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, GZIP, buffered by size or interval.
As in Firehose, `!{timestamp}` and the name's time are the approximate arrival time
of the oldest record in the object, so events of day D can land in folder D+1.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edge.wal import Segment, WriteAheadLog

try:  # ISA-L's deflate: ~4x zlib's speed at levels 0-3, same gzip format
    from isal import isal_zlib
except ImportError:  # pragma: no cover - e.g. a Lambda bundle without it
    isal_zlib = None

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 60.0
MIN_BUFFER_SECONDS = 1.0
# Full buffers waiting for the background writer.  Bounded, so a producer that outruns
# the writer waits for it instead of piling up memory that a crash would lose: what is
# not on disk is at most the open buffer, one being written and this many waiting.
MAX_WAITING_BUFFERS = 1

log = logging.getLogger("edgestats.firehose")


class Sink(Protocol):
    def put(self, record: bytes) -> None: ...

    def close(self) -> None: ...


class AwsFirehoseSink:
    """PutRecord with short timeouts and no retries: analytics must never slow a page."""

    def __init__(self, stream: str, region: str, client=None, timeout: float = 0.5,
                 endpoint_url: str | None = None):
        if client is None:
            import boto3
            from botocore.config import Config

            # total_max_attempts=1: one attempt, no retries, whatever the retry mode.
            client = boto3.client(
                "firehose",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                ),
            )
        self.stream = stream
        self.client = client

    def put(self, record: bytes) -> None:
        self.client.put_record(DeliveryStreamName=self.stream, Record={"Data": record})

    def close(self) -> None:
        pass


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


DAY_SECONDS = 86400


def temporary_path(final: Path) -> Path:
    """Where an object is written before its rename (a dot name: `*.gz` never matches)."""
    return final.with_name(f".{final.name}.tmp")


def fsync_dir(path: Path) -> None:
    """Make the names in a folder durable (a rename is not, until its folder is synced)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _gzip(data: bytes, level: int) -> bytes:
    """gzip, no file name or time in the header (equal input, equal bytes)."""
    if isal_zlib is not None and level <= isal_zlib.ISAL_BEST_COMPRESSION:
        return isal_zlib.compress(data, level, wbits=31)
    return gzip.compress(data, compresslevel=level, mtime=0)


class _Buffer:
    __slots__ = ("kind", "path", "segment", "chunks", "size", "first_arrival", "day_end",
                 "count")

    def __init__(self, kind: str, path: Path, first_arrival: float) -> None:
        self.kind = kind
        self.path = path  # the object it becomes, named when it opens
        self.segment: Segment | None = None  # its write-ahead copy, with a journal
        self.chunks: list[bytes] = []
        self.size = 0
        self.first_arrival = first_arrival
        # Epoch seconds of the next UTC midnight: Unix time has no leap seconds.
        self.day_end = first_arrival - first_arrival % DAY_SECONDS + DAY_SECONDS
        self.count = 0


_STOP = object()


class LocalFirehose:
    """A folder that behaves like a Firehose delivery stream's S3 destination.

    `put(record, arrival)` takes an explicit arrival time (seconds since the epoch) for
    simulated traffic; without one it uses the clock.  A buffer is delivered when it
    would exceed `buffer_bytes`, when it is `buffer_seconds` old (checked on each put
    and by a background thread once `start()` is called), when the arrival day changes,
    and on `flush()`/`close()`.  Objects appear atomically (temporary name, then rename).

    Without `start()` a full buffer is written by the `put` that fills it (simple and
    deterministic, for batch producers).  After `start()` the background thread writes
    it, so a live producer such as the collector does not wait for gzip and fsync,
    unless the writer falls `MAX_WAITING_BUFFERS` behind (then `put` waits for it);
    `flush()` and `close()` wait until everything handed over is on disk.

    With a `journal` (edge/wal.py, the collector's), each buffer is named when it
    opens, every record is also appended to the buffer's write-ahead segment, and an
    object's folder is fsynced after the rename before the segment is let go.
    """

    def __init__(
        self,
        root: Path | str,
        stream: str = "edgestats",
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
        clock: Callable[[], float] = time.time,
        uuid_factory: Callable[[], str] | None = None,
        compresslevel: int = 6,
        journal: WriteAheadLog | None = None,
    ):
        if buffer_seconds < MIN_BUFFER_SECONDS:
            raise ValueError(f"buffer_seconds must be at least {MIN_BUFFER_SECONDS}")
        if buffer_bytes < 1:
            raise ValueError("buffer_bytes must be positive")
        self.root = Path(root)
        self.stream = stream
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.clock = clock
        self.uuid_factory = uuid_factory or (lambda: str(uuid.uuid4()))
        self.compresslevel = compresslevel
        self.journal = journal
        self._lock = threading.Lock()  # guards the open buffers
        self._out_lock = threading.Lock()  # guards the delivery counters
        self._buffers: dict[str, _Buffer] = {}  # "events" or "errors/<type>"
        self._queue: queue.Queue | None = None  # full buffers for the background thread
        self._worker: threading.Thread | None = None
        self.records_in = 0
        self.records_out = 0
        self.delivery_errors = 0
        self.objects_written: list[Path] = []

    # ------------------------------------------------------------ producer API

    def put(self, record: bytes, arrival: float | None = None) -> None:
        self._put("events", record, arrival)

    def put_batch(self, records: list[bytes], arrival: float | None = None) -> None:
        for r in records:
            self._put("events", r, arrival)

    def put_error(self, record: bytes, error_type: str, error_code: str = "Lambda.ProcessingFailed",
                  message: str = "", arrival: float | None = None) -> None:
        """A record Firehose could not deliver, in Firehose's error-record JSON."""
        now = self.clock() if arrival is None else arrival
        doc = {
            "attemptsMade": 1,
            "arrivalTimestamp": int(now * 1000),
            "errorCode": error_code,
            "errorMessage": message,
            "attemptEndingTimestamp": int(now * 1000),
            "rawData": base64.b64encode(record).decode("ascii"),
        }
        self._put(f"errors/{error_type}", (json.dumps(doc) + "\n").encode(), arrival)

    def _put(self, kind: str, record: bytes, arrival: float | None) -> None:
        now = self.clock() if arrival is None else arrival
        full = None
        with self._lock:
            self.records_in += 1
            buf = self._buffers.get(kind)
            if buf is not None and (
                buf.size + len(record) > self.buffer_bytes
                or now - buf.first_arrival >= self.buffer_seconds
                or now >= buf.day_end
            ):
                full = self._buffers.pop(kind)
                buf = None
            if buf is None:
                buf = self._buffers[kind] = _Buffer(kind, self.object_path(now, kind), now)
                if self.journal is not None:
                    buf.segment = self.journal.segment(buf.path.relative_to(self.root).as_posix())
            buf.chunks.append(record)
            buf.size += len(record)
            buf.count += 1
            if buf.segment is not None:  # in the same order as the buffer, under the lock
                self.journal.append(buf.segment, record)
            waiting = self._queue
        if full is not None:
            if waiting is not None:  # outside the lock: the writer takes it in flush_due
                waiting.put(full)
            else:
                self._deliver(full)

    # ------------------------------------------------------------ delivery

    def _deliver(self, buf: _Buffer) -> Path:
        """Write one detached buffer as one object (then its write-ahead segment may go)."""
        final = self.deliver_records(buf.path, buf.chunks)
        if buf.segment is not None:
            self.journal.published(buf.segment)
        return final

    def deliver_records(self, final: Path, records: list[bytes]) -> Path:
        """`records` as the object `final` (also how the write-ahead log replays one)."""
        return self.write_object(final, _gzip(b"".join(records), self.compresslevel),
                                 len(records))

    def object_path(self, arrival: float, kind: str = "events") -> Path:
        """Where an object whose oldest record arrived at `arrival` goes, under a new name."""
        t = _utc(arrival)
        name = f"{self.stream}-1-{t:%Y-%m-%d-%H-%M-%S}-{self.uuid_factory()}.gz"
        return self.root / kind / f"dt={t:%Y-%m-%d}" / name

    def encode_object(self, records: list[bytes], arrival: float,
                      kind: str = "events") -> tuple[Path, bytes]:
        """Path and gzip bytes of the object `records` make, the oldest arrived at `arrival`.

        Public with `write_object` for a batch producer that cuts its buffers by the
        rules above itself (the simulator: its workers encode, its parent writes).
        """
        return self.object_path(arrival, kind), _gzip(b"".join(records), self.compresslevel)

    def write_object(self, final: Path, data: bytes, count: int) -> Path:
        """Temporary name, fsync, rename: readers never see half an object.

        With a journal the folders are fsynced too, so the object's name is as durable
        as the write-ahead segment that is deleted once this returns.
        """
        folder = final.parent
        new_folders = [] if folder.is_dir() else [p for p in (folder, *folder.parents)
                                                  if not p.is_dir()]
        folder.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(final)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            if self.journal is not None:
                for d in (folder, *(p.parent for p in new_folders)):
                    fsync_dir(d)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with self._out_lock:
            self.records_out += count
            self.objects_written.append(final)
        return final

    def _detach(self, due_only: bool) -> list[_Buffer]:
        now = self.clock()
        with self._lock:
            kinds = [k for k, b in self._buffers.items()
                     if not due_only or now - b.first_arrival >= self.buffer_seconds]
            return [self._buffers.pop(k) for k in kinds]

    def flush(self) -> None:
        """Deliver every open buffer and wait for the background thread's backlog."""
        for buf in self._detach(due_only=False):
            self._deliver(buf)
        if self._queue is not None:
            self._queue.join()

    def flush_due(self) -> None:
        """Deliver buffers whose interval has passed by the clock (the timer's job)."""
        for buf in self._detach(due_only=True):
            self._deliver(buf)

    def start(self, tick: float = 0.25) -> LocalFirehose:
        """Start the background thread: interval flushes and writing full buffers."""
        if self._worker is None:
            self._queue = queue.Queue(maxsize=MAX_WAITING_BUFFERS)
            self._worker = threading.Thread(target=self._run, args=(self._queue, tick),
                                            name="firehose-writer", daemon=True)
            self._worker.start()
        return self

    def _run(self, q: queue.Queue, tick: float) -> None:
        while True:
            try:
                item = q.get(timeout=tick)
            except queue.Empty:
                item = None
            try:
                if item is _STOP:
                    return
                if item is not None:
                    self._deliver(item)
                self.flush_due()
            except Exception as e:  # a full disk must not kill the thread; say so once per object
                with self._out_lock:
                    self.delivery_errors += 1
                log.error("edgestats firehose emulator could not write an object: %s: %s",
                          type(e).__name__, e)
            finally:
                if item is not None:
                    q.task_done()

    def close(self) -> None:
        """Stop the background thread after its backlog, then deliver what is left."""
        if self._worker is not None and self._queue is not None:
            self._queue.put(_STOP)
            self._worker.join()
            self._worker = None
            self._queue = None
        self.flush()

    def __enter__(self) -> LocalFirehose:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
