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
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 60.0
MIN_BUFFER_SECONDS = 1.0


class Sink(Protocol):
    def put(self, record: bytes) -> None: ...

    def close(self) -> None: ...


class AwsFirehoseSink:
    """PutRecord with short timeouts and no retries: analytics must never slow a page."""

    def __init__(self, stream: str, region: str, client=None, timeout: float = 0.5):
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "firehose",
                region_name=region,
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


class _Buffer:
    __slots__ = ("chunks", "size", "first_arrival", "count")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.first_arrival = 0.0
        self.count = 0


class LocalFirehose:
    """A folder that behaves like a Firehose delivery stream's S3 destination.

    `put(record, arrival)` takes an explicit arrival time (seconds since the epoch) for
    simulated traffic; without one it uses the clock.  A buffer is delivered when it
    would exceed `buffer_bytes`, when it is `buffer_seconds` old (checked on each put
    and by a background timer once `start()` is called), when the arrival day changes,
    and on `flush()`/`close()`.  Objects appear atomically (temporary name, then rename).
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
        self._lock = threading.Lock()
        self._buffers: dict[str, _Buffer] = {}  # "events" or "errors/<type>"
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self.records_in = 0
        self.records_out = 0
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
        with self._lock:
            self.records_in += 1
            buf = self._buffers.get(kind)
            if buf is not None and buf.count and (
                buf.size + len(record) > self.buffer_bytes
                or now - buf.first_arrival >= self.buffer_seconds
                or _utc(now).date() != _utc(buf.first_arrival).date()
            ):
                self._deliver(kind, buf)
                buf = None
            if buf is None:
                buf = self._buffers[kind] = _Buffer()
            if not buf.count:
                buf.first_arrival = now
            buf.chunks.append(record)
            buf.size += len(record)
            buf.count += 1

    # ------------------------------------------------------------ delivery

    def _deliver(self, kind: str, buf: _Buffer) -> Path:
        """Write one buffer as one object; caller holds the lock."""
        t = _utc(buf.first_arrival)
        folder = self.root / kind / f"dt={t:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.stream}-1-{t:%Y-%m-%d-%H-%M-%S}-{self.uuid_factory()}.gz"
        final = folder / name
        tmp = folder / f".{name}.tmp"
        data = gzip.compress(b"".join(buf.chunks), compresslevel=self.compresslevel, mtime=0)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self.records_out += buf.count
        self.objects_written.append(final)
        self._buffers.pop(kind, None)
        return final

    def flush(self) -> None:
        with self._lock:
            for kind, buf in list(self._buffers.items()):
                if buf.count:
                    self._deliver(kind, buf)

    def flush_due(self) -> None:
        """Deliver buffers whose interval has passed by the clock (the timer's job)."""
        now = self.clock()
        with self._lock:
            for kind, buf in list(self._buffers.items()):
                if buf.count and now - buf.first_arrival >= self.buffer_seconds:
                    self._deliver(kind, buf)

    def start(self, tick: float = 0.25) -> LocalFirehose:
        """Start the interval timer, for live producers such as the collector."""
        if self._timer is None:
            def run() -> None:
                while not self._stop.wait(tick):
                    self.flush_due()

            self._timer = threading.Thread(target=run, name="firehose-timer", daemon=True)
            self._timer.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        self.flush()

    def __enter__(self) -> LocalFirehose:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
