"""The collector's write-ahead log: a 200/204 means the event is on disk.

`edgestats collect` answers a request that made an event only once that event is in
a file that has been fdatasync'd.  The Firehose emulator still buffers events in memory
for up to 60 s / 5 MiB before it writes a landing object; the write-ahead log covers
that window, so SIGKILL or a power cut loses nothing that was answered.

**One segment per landing object.**  Every buffer the emulator opens is named (path
and uuid) when it opens, and gets a segment `$EDGESTATS_HOME/wal/<object stem>.wal`
whose first frame names that object.  Each record put into the buffer is appended to
its segment.  When the buffer has become its object (temporary name, fsync, rename,
fsync of the folder), the segment is deleted.  The landing zone itself is the
checkpoint: on the next start, a segment whose object exists is deleted, and a segment
whose object does not exist is written as that object, under that name, and deleted.
Object names are unique, and an object always holds every record of its segment (it
is written from the buffer the segment copies), so replay never lands an event twice,
whichever step a crash interrupted; a crash during replay is replayed the same way.

**Group commit.**  The event loop only appends (record, segment) to a list under a
lock; one writer thread takes everything that arrived, writes it, fdatasyncs each
segment it touched (and the folder when it created a segment) and reports the highest
record number now durable.  Requests that arrive during one fdatasync ride the next,
so a commit covers as many requests as arrived in the previous one.  The fsync never
runs on the event loop.

**Frames.**  `<length, 8 hex> <crc32, 8 hex> <payload>\\n`.  Only the tail past the
last fdatasync can be damaged (torn by a power cut); replay keeps the frames before
the first one that is short or fails its CRC.  The payloads are the canonical event
lines exactly as they go into the landing object (edge/schema.py): no IP, no
User-Agent (docs/privacy.md).

**Crash points** (tests/reliability/test_collector_crash.py kills a real collector at
each; tests/edge/test_wal.py builds the files each leaves):

- before a record's commit returned: not answered; it lands if its bytes reached the
  file (SIGKILL keeps the page cache), else a power cut tore the tail and replay keeps
  the intact frames before it;
- after the commit, before the answer: it lands, never answered;
- answered, buffer still open: replay writes the segment as its object;
- object written under its temporary name, not renamed: replay writes it again under
  the same name, replacing the temporary file;
- renamed, folder not yet fsynced: after SIGKILL the object is there and the segment is
  deleted; after a power cut the rename may be lost, but the segment is still there
  (it is deleted only after the folder fsync), so the object is written again;
- folder fsynced, segment not deleted (or its deletion lost to a power cut): the object
  is there, the segment is deleted.  Even writing it again would replace the object
  under its own name, never add a second one;
- while creating a segment: nothing in it was answered (answers wait for the fsync of
  the folder that names it); it is deleted;
- while the emulator writes an object whose segment was not created yet: none of its
  events was answered; its `.tmp` file stays, and readers only read `*.gz`;
- during replay: the next start repeats the same steps;
- a write or fdatasync fails (disk full, I/O error): the segment takes no more records,
  their requests are answered 503 (Retry-After: 1); the buffer still becomes its object
  if it can, and replay keeps the frames before the failure;
- a landing object cannot be written: the emulator logs it, the segment stays, and the
  next start lands it.

Power loss itself is not tested here (no machine to cut power on): it rests on the order
above (fdatasync before an answer, folder fsync after a create and after a rename,
deletion last) and the torn-tail cases in the unit tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from edge.firehose import fsync_dir, temporary_path

FORMAT = 1
SUFFIX = ".wal"
LOCK_NAME = ".lock"
_FRAME_HEAD = re.compile(rb"([0-9a-f]{8}) ([0-9a-f]{8}) ")
_FRAME_HEAD_BYTES = 18
# What a segment's header may name: an object of the emulator's prefixes (firehose.py).
_OBJECT = re.compile(r"^(events|errors/[a-z0-9-]+)/dt=\d{4}-\d{2}-\d{2}/[A-Za-z0-9._-]+\.gz$")

log = logging.getLogger("edgestats.wal")


class WalBusy(RuntimeError):
    """Another process holds the write-ahead log folder."""


def frame(payload: bytes) -> bytes:
    return b"%08x %08x " % (len(payload), zlib.crc32(payload)) + payload + b"\n"


def read_frames(data: bytes) -> list[bytes]:
    """Payloads of the whole, intact frames at the start of `data`."""
    out: list[bytes] = []
    i, n = 0, len(data)
    while True:
        m = _FRAME_HEAD.match(data, i)
        if m is None:
            return out
        start = i + _FRAME_HEAD_BYTES
        end = start + int(m.group(1), 16)
        if end >= n or data[end] != 0x0A:
            return out
        payload = data[start:end]
        if zlib.crc32(payload) != int(m.group(2), 16):
            return out
        out.append(payload)
        i = end + 1


def header(object_name: str) -> bytes:
    return json.dumps({"edgestats_wal": FORMAT, "object": object_name}).encode()


class Segment:
    """The write-ahead copy of one open Firehose buffer; the file appears on first commit."""

    __slots__ = ("object", "path", "fd", "broken")

    def __init__(self, object_name: str, path: Path) -> None:
        self.object = object_name  # relative to the landing root
        self.path = path
        self.fd: int | None = None
        self.broken = False  # a write or fdatasync failed: nothing more is trusted to it


class _Published:
    __slots__ = ("segment",)

    def __init__(self, segment: Segment) -> None:
        self.segment = segment


_STOP = object()


class WriteAheadLog:
    """Segments under `folder`, a group-committing writer thread, and replay.

    `append` returns the record's number (1, 2, ...); `on_commit(upto, failed)` is
    called from the writer thread after each commit: every record numbered <= `upto`
    is durable except those in `failed` (their segment could not be written).
    """

    def __init__(self, folder: Path | str,
                 on_commit: Callable[[int, frozenset[int]], None] | None = None) -> None:
        self.folder = Path(folder)
        self.on_commit = on_commit
        self._cond = threading.Condition(threading.Lock())
        self._queue: list = []
        self._idle = False
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self.appended = 0  # records handed over
        self.durable = 0  # every record up to here is on disk (or reported failed)
        self.commits = 0  # fdatasync rounds (one per batch)
        self.write_errors = 0

    # ------------------------------------------------------------ lifecycle

    def open(self) -> WriteAheadLog:
        """Create the folder and take its lock: one collector per EDGESTATS_HOME."""
        created = not self.folder.is_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.folder.parent)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WalBusy(f"another edgestats collect is using {self.folder}; stop it first "
                          "or give this one its own EDGESTATS_HOME") from None
        self._lock_fd = fd
        return self

    def start(self) -> WriteAheadLog:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wal-writer", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Commit what was handed over, stop the writer, release the folder."""
        if self._thread is not None:
            with self._cond:
                self._queue.append(_STOP)
                self._cond.notify()
            self._thread.join()
            self._thread = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------ producer API

    def segment(self, object_name: str) -> Segment:
        """The segment for the buffer that will become `object_name` (no I/O yet)."""
        stem = object_name.rsplit("/", 1)[-1].removesuffix(".gz")
        return Segment(object_name, self.folder / f"{stem}{SUFFIX}")

    def append(self, segment: Segment, record: bytes) -> int:
        with self._cond:
            self.appended += 1
            self._queue.append((segment, self.appended, record))
            if self._idle:
                self._idle = False
                self._cond.notify()
            return self.appended

    def published(self, segment: Segment) -> None:
        """`segment`'s object is durably in the landing zone: the segment may go."""
        with self._cond:
            self._queue.append(_Published(segment))
            if self._idle:
                self._idle = False
                self._cond.notify()

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._idle = True
                    self._cond.wait()
                batch, self._queue = self._queue, []
                upto = self.appended
            stop = batch[-1] is _STOP
            if stop:
                batch.pop()
            try:
                failed = self._commit(batch)
            except Exception as e:  # a bug here must not leave requests waiting forever
                log.error("edgestats write-ahead log failed: %s: %s", type(e).__name__, e)
                failed = frozenset(item[1] for item in batch if isinstance(item, tuple))
            self.durable = upto
            self.commits += 1
            callback = self.on_commit
            if callback is not None:
                callback(upto, failed)
            if stop:
                return

    def _commit(self, batch: list) -> frozenset[int]:
        published = {id(item.segment): item.segment for item in batch
                     if isinstance(item, _Published)}
        pending: dict[int, tuple[Segment, list[bytes], list[int]]] = {}
        failed: set[int] = set()
        for item in batch:
            if isinstance(item, _Published):
                continue
            seg, seq, record = item
            if id(seg) in published:  # its object is on disk already: nothing to write
                continue
            if seg.broken:
                failed.add(seq)
                continue
            entry = pending.get(id(seg))
            if entry is None:
                entry = pending[id(seg)] = (seg, [], [])
            entry[1].append(frame(record))
            entry[2].append(seq)
        created = []
        written = []
        for seg, frames, seqs in pending.values():
            try:
                if seg.fd is None:
                    seg.fd = os.open(seg.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                     | os.O_APPEND | os.O_CLOEXEC, 0o600)
                    frames.insert(0, frame(header(seg.object)))
                    created.append((seg, seqs))
                _write_all(seg.fd, b"".join(frames))
                os.fdatasync(seg.fd)
                written.append(seg)
            except OSError as e:
                self._broken(seg, e)
                failed.update(seqs)
        if created:
            try:
                fsync_dir(self.folder)  # the new segments' names
            except OSError as e:
                for seg, seqs in created:
                    self._broken(seg, e)
                    failed.update(seqs)
        for seg in published.values():
            if seg.fd is not None:
                os.close(seg.fd)
                seg.fd = None
            try:
                os.unlink(seg.path)
            except FileNotFoundError:  # never written: the object came first
                pass
            except OSError as e:  # harmless: replay deletes it, its object exists
                log.warning("edgestats collector could not delete %s: %s", seg.path,
                            os.strerror(e.errno) if e.errno else type(e).__name__)
        return frozenset(failed)

    def _broken(self, seg: Segment, e: OSError) -> None:
        """After a failed write or fdatasync the segment's tail is unknown: append no more
        (replay keeps its intact frames; the buffer still becomes its object)."""
        if not seg.broken:
            self.write_errors += 1
            log.error("edgestats collector cannot write its write-ahead log %s (%s): "
                      "answering 503 for the events that were not kept",
                      seg.path, os.strerror(e.errno) if e.errno else type(e).__name__)
        seg.broken = True

    # ------------------------------------------------------------ replay

    def replay(self, landing: Path, deliver: Callable[[Path, list[bytes]], object]
               ) -> tuple[int, int]:
        """Land what a collector that did not stop cleanly left; (segments, events) landed.

        Call after `open()` and before the first `append`.  `deliver(path, records)`
        writes one object durably.  Idempotent: a crash here is replayed the same way.
        """
        segments = events = 0
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            frames = read_frames(path.read_bytes())
            if not frames:  # torn before its header was durable: nothing was answered
                os.unlink(path)
                continue
            try:
                head = json.loads(frames[0])
                name = head["object"]
                if head.get("edgestats_wal") != FORMAT or not _OBJECT.match(name):
                    raise ValueError(name)
            except (ValueError, KeyError, TypeError):
                log.warning("edgestats collector left %s alone: it does not name a landing "
                            "object this version writes", path)
                continue
            final = landing / name
            records = frames[1:]
            if records and not final.exists():
                deliver(final, records)  # replaces a temporary file the crash left
                segments += 1
                events += len(records)
            else:  # nothing to land, or landed already: a temporary file is a leftover
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary_path(final))
            os.unlink(path)
        fsync_dir(self.folder)
        return segments, events


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
