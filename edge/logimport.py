"""`edgestats import-logs PATH...`: CloudFront standard log files into the landing zone.

The history door (DESIGN 9.4).  Files are read as a stream (plain or gzip, told apart
by their first bytes, not their names), each line goes through the one normaliser,
and events land through the local Firehose emulator with arrival = event time, so
they sit in `events/dt=<event date>/` under Firehose-style object names.

Re-importing is harmless: events keep CloudFront's request id (the dedup key), and
object names are uuid5 of the file's path and the object's sequence within it, so a
second import of the same file replaces its objects instead of adding copies.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import secrets
import sys
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from edge.config import ConfigError, EdgeConfig, Settings
from edge.firehose import LocalFirehose
from edge.logformat import LEGACY_LAYOUT, Malformed, W3CLayout
from edge.normalize import Skip, normalise
from edge.salts import MemorySaltStore, SaltStore
from edge.schema import encode

GZIP_MAGIC = b"\x1f\x8b"
INGEST = "log-import"
# Arrival here is event time, so a live stream's 60 s interval would cut an hour-long
# log file into 60 tiny objects for no benefit.  A day means one object per file and
# event day (the emulator still cuts at the day boundary and at buffer_bytes).
IMPORT_BUFFER_SECONDS = 86400.0
OBJECT_NAMESPACE = uuid.UUID("6f1c53c4-8d0e-5a53-9a52-6c6f67696d70")
SUMMARY_REASONS = ("asset", "status", "not-get", "malformed")
# Below this much input, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
MAX_DEFLATE_RATIO = 1032  # no deflate stream inflates more than this


@dataclass
class ImportSummary:
    files: int = 0
    lines: int = 0
    pageviews: int = 0
    custom: int = 0
    bots: int = 0
    skipped: Counter = field(default_factory=Counter)

    def add(self, other: ImportSummary) -> None:
        self.files += other.files
        self.lines += other.lines
        self.pageviews += other.pageviews
        self.custom += other.custom
        self.bots += other.bots
        self.skipped.update(other.skipped)

    def line(self) -> str:
        """The one summary line the command prints."""
        reasons = [f"{r}={self.skipped.get(r, 0)}" for r in SUMMARY_REASONS]
        reasons += [f"{r}={n}" for r, n in sorted(self.skipped.items())
                    if r not in SUMMARY_REASONS and n]
        return (
            f"imported {self.files} files, {self.lines} lines: {self.pageviews} page views, "
            f"{self.custom} custom events, {self.bots} bots; "
            f"skipped {sum(self.skipped.values())} ({', '.join(reasons)})"
        )


class _ObjectNames:
    """Deterministic object uuids: uuid5 of (file, n-th object written for it)."""

    def __init__(self) -> None:
        self.key = ""
        self.n = 0

    def start(self, key: str) -> None:
        self.key, self.n = key, 0

    def __call__(self) -> str:
        name = uuid.uuid5(OBJECT_NAMESPACE, f"{self.key}\0{self.n}")
        self.n += 1
        return str(name)


def log_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read, directories walked recursively in name order.

    Every path is checked before anything is imported, so a typo fails fast.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(f for f in p.rglob("*")
                                if f.is_file() and not f.name.startswith(".")))
        else:
            raise ConfigError(f"import-logs: {str(p)!r} is not a file or directory; "
                              "give paths to CloudFront log files or folders of them")
    unique = {f.resolve(): f for f in reversed(found)}  # a file named twice is read once
    return [unique[k] for k in dict.fromkeys(f.resolve() for f in found)]


def _lines(path: Path, warn: TextIO) -> Iterator[bytes | None]:
    """The file's lines, plain or gzip by magic bytes (CloudFront's `.gz` files are often
    renamed or unpacked).  A corrupt gzip ends the file with a warning and one None,
    instead of ending the run."""
    try:
        raw = open(path, "rb")
    except OSError as e:
        print(f"edgestats: import-logs: {path}: cannot be read ({e.strerror}); skipped", file=warn)
        yield None
        return
    with raw:
        stream: BinaryIO = raw
        if raw.peek(2)[:2] == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        try:
            yield from stream
        except (EOFError, OSError, zlib.error) as e:
            print(f"edgestats: import-logs: {path}: unreadable past this point ({e}); "
                  "its remaining lines are skipped", file=warn)
            yield None


def import_file(path: Path, firehose: LocalFirehose, salts: SaltStore,
                summary: ImportSummary, pixel_path: str | None = None,
                warn: TextIO | None = None) -> None:
    """Stream one log file into the firehose; updates `summary` in place."""
    warn = warn or sys.stderr
    key = str(path.resolve())
    id_prefix = "log-" + uuid.uuid5(OBJECT_NAMESPACE, key).hex[:16]
    layout: W3CLayout = LEGACY_LAYOUT  # CloudFront always writes #Fields; this is the fallback
    skipped = summary.skipped
    put = firehose.put
    for lineno, raw in enumerate(_lines(path, warn), 1):
        if raw is None:
            summary.lines += 1
            skipped["malformed"] += 1
            break
        if raw[:1] == b"#":
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text.startswith("#Fields:"):
                layout = W3CLayout.from_header(text)
                if layout.problem:
                    print(f"edgestats: import-logs: {path}:{lineno}: {layout.problem}; "
                          "its lines are counted as malformed", file=warn)
            continue
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        summary.lines += 1
        try:
            hit = layout.hit(raw.decode("utf-8"), f"{id_prefix}-{lineno}", INGEST, pixel_path)
            event = normalise(hit, salts)
        except Skip as s:
            skipped[s.reason] += 1
            continue
        except (Malformed, UnicodeDecodeError, ValueError):
            skipped["malformed"] += 1
            continue
        if event["is_bot"]:
            summary.bots += 1
        elif event["event_type"] == "custom":
            summary.custom += 1
        else:
            summary.pageviews += 1
        put(encode(event), arrival=hit.time.timestamp())


def _import_one(path: Path, settings: Settings, salts: SaltStore,
                pixel_path: str | None, warn: TextIO | None = None) -> ImportSummary:
    """One file through its own emulator, so its objects never mix with another file's
    and their names (uuid5 of path and sequence) are the same on every import."""
    names = _ObjectNames()
    names.start(str(path.resolve()))
    firehose = LocalFirehose(
        settings.landing,
        stream=settings.firehose_stream,
        buffer_bytes=settings.firehose_buffer_bytes,
        buffer_seconds=max(settings.firehose_buffer_seconds, IMPORT_BUFFER_SECONDS),
        uuid_factory=names,
    )
    summary = ImportSummary(files=1)
    try:
        import_file(path, firehose, salts, summary, pixel_path, warn)
    finally:
        firehose.close()
    return summary


def _text_size(path: Path) -> int:
    """Bytes of log text in `path`.  Log text compresses 10-30x, so a gzip file's own size
    would undercount the work; its trailer holds the uncompressed size (mod 4 GiB), capped
    at deflate's best ratio in case the file is cut short and the trailer is not one."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(2) != GZIP_MAGIC or size < 18:
                return size
            f.seek(-4, os.SEEK_END)
            return min(int.from_bytes(f.read(4), "little"), size * MAX_DEFLATE_RATIO)
    except OSError:
        return 0


def _worker_count(files: list[Path]) -> int:
    """Processes worth starting: one per core once there is enough input to pay for them."""
    if len(files) < 2:
        return 1
    size = sum(_text_size(f) for f in files)
    return 1 if size < PARALLEL_MIN_BYTES else min(len(files), os.cpu_count() or 1)


def import_logs(paths: Iterable[str | Path], settings: Settings, salts: SaltStore | None = None,
                progress: bool = False, warn: TextIO | None = None,
                workers: int | None = None) -> ImportSummary:
    """Import every log file under `paths` into `settings.landing`.

    Salts: one per day for the whole run, random and held only in memory, never
    written: a `MemorySaltStore` keyed by 32 random bytes made for this run (worker
    processes get the key through their pipe, so they agree on each day's salt).
    History is usually older than the 48 h a live salt is kept, and a persisted salt
    for an old day would let anyone holding the landing zone re-derive visitor ids
    from known IPs; a throwaway salt keeps ids consistent within the import (so
    sessions and daily visitors are right) and unlinkable once it exits.  Importing
    the same day in two runs gives two salts, so import a day in one run.

    Files are spread over `workers` processes (default: one per core for large
    imports); a `salts` store given here must then be picklable and deterministic.
    """
    files = log_files(paths)
    salts = salts if salts is not None else MemorySaltStore(seed=secrets.token_bytes(32))
    pixel_path = EdgeConfig.load().pixel_path
    workers = _worker_count(files) if workers is None else max(1, workers)
    summary = ImportSummary()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", file=sys.stderr, desc="import-logs")
    try:
        if workers == 1:
            done: Iterable[ImportSummary] = (
                _import_one(f, settings, salts, pixel_path, warn) for f in files)
            for part in done:
                summary.add(part)
                if bar is not None:
                    bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
            pool = ProcessPoolExecutor(workers, mp_context=ctx)
            try:
                jobs = [pool.submit(_import_one, f, settings, salts, pixel_path) for f in files]
                for job in as_completed(jobs):
                    summary.add(job.result())
                    if bar is not None:
                        bar.update()
            except BaseException:  # Ctrl-C or a failed file: do not wait for the rest
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
    finally:
        if bar is not None:
            bar.close()
    return summary


def run_cli(args, settings: Settings) -> int:
    """`edgestats import-logs PATH... [--no-progress]`."""
    progress = not getattr(args, "no_progress", False) and sys.stderr.isatty()
    summary = import_logs(args.paths, settings, progress=progress)
    print(summary.line())
    return 0
