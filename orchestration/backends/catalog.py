"""What the `athena` and `trino` backends share: the Glue catalog, S3, and how a day is
written (design.md, "Backends" and "Storage layout").

Both run the pipeline's SQL as written, against tables the analytics stack deploys
(`edge.catalog`); only the client that runs a statement differs (`_execute`).  Here:

- **Tables** are read from Glue, and checked against `edge.catalog` before use, so the S3
  prefixes this module writes and deletes are exactly the ones the engine reads.
- **`raw_events`** is a view over `landing_events` (the landing lines), defined by
  `orchestration/sql/raw_events.sql`; the backend (re)creates it once per engine.
- **Raw partitions** (`landing_events`, dt = landing folder) are registered through the
  Glue partition API, or by a crawler run over the day folders not registered yet
  (`EDGESTATS_CRAWLER_MODE=crawler`; no crawl when all are): the crawler's S3 targets are
  set to exactly those `events/dt=D/` folders (the deployed exclusions kept), then it is
  started, awaited until READY, its LastCrawl read, and each partition checked.  Crawls
  of one crawler must not overlap: the Dagster pool `CRAWLER_POOL` has a limit of 1; this
  module also waits for a crawl already running.
- **A damaged landing object** (a truncated or non-gzip `.gz`) fails every query that
  reads it, on Athena and on Trino alike.  When a statement fails so inside `raw_scan`,
  the object is repaired and the statement run again: the original is kept under
  `quarantine/dt=D/`, and the object is replaced by its complete lines (or removed when
  none can be read), which is what the local backend reads from it.  Later scans report
  it from the quarantine copy, truncated or unreadable as locally, and listings of the
  landing zone (`landing_objects`) show it as it was delivered.
- **Atomic day replace.**  A write never touches what readers read: the statement's rows
  go to a new version, `<table>/gen-<utc time>-<id>/dt=D/`, through a scratch table
  located there (an INSERT adds its partitions); then each day's partition of the real
  table is repointed, 100 days per Glue call (`BatchUpdatePartition`).  A reader sees the old
  day or the new one, never a gap; a failed statement leaves the old day as it was.  The
  replaced version is kept until the day's next rewrite (a query planned before the
  switch may still read it), then deleted with any other leftover older than an hour.
"""

from __future__ import annotations

import abc
import datetime as dt
import gzip
import json
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from edge.catalog import LANDING_COLUMNS, LANDING_TABLE
from edge.config import ConfigError, Settings
from orchestration.backends import landing_reader
from orchestration.engine import (
    CRAWLER_POOL,
    LANDING_AREAS,
    MAX_PARTITIONS_PER_STATEMENT,
    DayRange,
    Engine,
    LandingObject,
    QueryResult,
    RawFolder,
    RawRegistration,
    RawScan,
    WriteResult,
    first_line_problem,
    parse_day,
)
from orchestration.statements import identifier, view
from orchestration.tables import PARTITION_COLUMN, WAREHOUSE_TABLES

__all__ = ["CRAWLER_POOL", "CatalogBackendError", "CatalogEngine", "Executed", "QueryFailed"]

RAW_VIEW = "raw_events"
QUARANTINE = "quarantine"  # <landing>/quarantine/dt=D/<name>: damaged objects as they came
GENERATION_PREFIX = "gen-"
STALE_AFTER_S = 3600  # a leftover generation or scratch table older than this is garbage
_S3_DELETE_BATCH = 1000  # DeleteObjects limit
_S3_LIST_PAGE = 1000  # ListObjectsV2 page
_GLUE_PARTITION_BATCH = 100  # BatchCreatePartition / BatchUpdatePartition limit
_GLUE_GET_BATCH = 1000  # BatchGetPartition limit
_SNIFF_STEP = 4096  # ranged reads until the first line is out
_SNIFF_LIMIT = 64 * 1024
_SNIFF_WORKERS = 16
_DONE_CRAWL = {"SUCCEEDED", "COMPLETED"}  # COMPLETED: what moto reports for a finished crawl
_CANCELLED_CRAWL = {"CANCELLED", "STOPPED"}  # STOPPED: moto's word for it
_GENERATION = re.compile(r"gen-(\d{8}T\d{6}Z)-[0-9a-f]+/")


class CatalogBackendError(RuntimeError):
    """The engine, Glue or S3 refused or failed; the message names what and what to check."""


class QueryFailed(CatalogBackendError):
    """A statement ended failed or cancelled, or could not be started."""

    def __init__(self, message: str, query_id: str | None, state: str, reason: str | None,
                 error_name: str | None = None):
        super().__init__(message)
        self.query_id = query_id
        self.state = state
        self.reason = reason
        self.error_name = error_name  # the engine's error code, e.g. HIVE_CURSOR_ERROR


class CrawlerError(CatalogBackendError):
    """The Glue crawler failed, was cancelled, or did not register the partitions."""


class CrawlerTimeout(CrawlerError):
    """The crawler did not reach READY within the configured time."""


# An engine's reading failure that names no object still has one of these codes (Athena
# and Trino share the Hive connector's names); the repair then checks every object read.
READ_FAILURES = ("HIVE_CURSOR_ERROR", "HIVE_CANNOT_OPEN_SPLIT", "HIVE_BAD_DATA")
_S3_URI = re.compile(r"s3a?://[^\s'\"(),]+")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/")."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a") or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3:// location")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


@dataclass
class Executed:
    """What one statement returned and what the engine says it cost."""

    query_id: str | None
    statement_type: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    bytes_scanned: int = 0
    engine_ms: int = 0
    update_count: int | None = None
    cost_usd: float | None = None  # at list price, where the engine bills per statement


@dataclass(frozen=True)
class GlueTable:
    name: str
    bucket: str
    prefix: str  # ends in "/"
    table_input: dict  # what to create a like table from (scratch tables)
    storage: dict  # the table's StorageDescriptor, for partitions
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]

    def day_prefix(self, day: str) -> str:
        return f"{self.prefix}{PARTITION_COLUMN}={parse_day(day).isoformat()}/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def _generation_time(name: str) -> float | None:
    """When generation `gen-<utc>-<id>/` was started (seconds since the epoch)."""
    m = _GENERATION.match(name)
    if not m:
        return None
    return dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC).timestamp()


def _is_stale(prefix: str, now: float) -> bool:
    started = _generation_time(prefix)
    return started is None or now - started > STALE_AFTER_S


class CatalogEngine(Engine):
    """An engine whose tables live in the Glue catalog over S3; see the module docstring.
    Subclasses run statements (`_execute`) and say which failures name a damaged object."""

    def __init__(self, settings: Settings, *, database: str, poll_seconds: float = 5.0):
        self.settings = settings
        if not settings.aws_region:
            raise ConfigError(f"the {self.name} backend needs the AWS region of the Glue "
                              "catalog: set EDGESTATS_AWS_REGION (or AWS_REGION)")
        try:
            self.database = identifier(database)
        except ValueError as e:
            raise ConfigError(f"the {self.name} backend's database: {e}") from None
        if settings.crawler_mode == "crawler" and not settings.glue_crawler:
            raise ConfigError("EDGESTATS_CRAWLER_MODE=crawler needs EDGESTATS_GLUE_CRAWLER "
                              "(the crawler name from the analytics stack outputs)")
        self.poll_seconds = poll_seconds
        self._session = boto3.Session(region_name=settings.aws_region)
        self.glue = self._session.client("glue", endpoint_url=settings.aws_endpoint_url)
        self.s3 = self._session.client("s3", endpoint_url=settings.aws_endpoint_url)
        self._tables: dict[str, GlueTable] = {}
        self._view_current = False
        self._scan: tuple[DayRange, RawScan] | None = None

    # ------------------------------------------------------------------ the engine's part

    @abc.abstractmethod
    def _execute(self, sql: str, what: str) -> Executed:
        """Run one statement; a failure raises `QueryFailed` with the engine's reason."""

    def _cost(self, done: Executed) -> float | None:
        return done.cost_usd

    # ------------------------------------------------------------------ catalog

    def _table(self, name: str) -> GlueTable:
        if name in self._tables:
            return self._tables[name]
        identifier(name)
        try:
            found = self.glue.get_table(DatabaseName=self.database, Name=name)["Table"]
        except ClientError as e:
            if e.response["Error"]["Code"] == "EntityNotFoundException":
                raise CatalogBackendError(
                    f"Glue table {self.database}.{name} does not exist: deploy the analytics "
                    "stack (docs/deploy.md), or `make trino-up` for the local Trino stack, or "
                    "check EDGESTATS_GLUE_DATABASE") from None
            raise
        storage = found["StorageDescriptor"]
        try:
            bucket, prefix = split_s3_uri(storage.get("Location", ""))
        except ValueError as e:
            raise CatalogBackendError(f"Glue table {self.database}.{name}: {e}") from None
        table_input = {k: found[k] for k in ("TableType", "Parameters", "PartitionKeys",
                                              "StorageDescriptor") if k in found}
        table = GlueTable(
            name=name, bucket=bucket, prefix=prefix, table_input=table_input, storage=storage,
            columns=tuple((c["Name"].lower(), c["Type"].lower()) for c in storage["Columns"]),
            partition_keys=tuple((k["Name"].lower(), k["Type"].lower())
                                 for k in found.get("PartitionKeys", [])),
        )
        self._check_layout(table)
        self._tables[name] = table
        return table

    def _check_layout(self, table: GlueTable) -> None:
        """Fail early, and say why, when the deployed table is not the one the SQL uses."""
        if table.partition_keys != ((PARTITION_COLUMN, "string"),):
            raise CatalogBackendError(
                f"Glue table {self.database}.{table.name} is partitioned by "
                f"{list(table.partition_keys)}, expected [('dt', 'string')]; redeploy the "
                "analytics stack")
        expected = LANDING_COLUMNS if table.name == LANDING_TABLE else WAREHOUSE_TABLES.get(
            table.name)
        if expected is None or table.columns == expected:
            return
        diffs = [f"{i}: deployed {d!r}, pipeline {p!r}"
                 for i, (d, p) in enumerate(zip(table.columns, expected, strict=False)) if d != p]
        if len(table.columns) != len(expected):
            diffs.append(f"deployed {len(table.columns)} columns, pipeline {len(expected)}")
        raise CatalogBackendError(
            f"Glue table {self.database}.{table.name} does not match edge/catalog.py "
            f"({'; '.join(diffs[:4])}); redeploy the analytics stack")

    def _ensure_raw_view(self) -> None:
        """(Re)create the `raw_events` view from raw_events.sql, once per engine."""
        if self._view_current:
            return
        self._table(LANDING_TABLE)  # a clear message when the stack is not deployed
        self._execute(f"CREATE OR REPLACE VIEW {RAW_VIEW} AS\n{view(RAW_VIEW).strip()}",
                      f"the {RAW_VIEW} view")
        self._view_current = True

    # ------------------------------------------------------------------ raw partitions

    def register_raw_partitions(self, folders: DayRange) -> RawRegistration:
        raw = self._table(LANDING_TABLE)
        found = [self._inspect_folder(raw, day) for day in folders.keys]
        days = [f.day for f in found if f.files]
        if days and self.settings.crawler_mode == "crawler":
            # a registered folder needs no crawl: the engine lists its objects at query time
            missing = self._missing_partitions(raw, days)
            if missing:
                self._crawl(raw, missing)
        elif days:
            self._create_partitions(raw, days)
        self._verify_partitions(raw, days)
        self._ensure_raw_view()
        return RawRegistration(found)

    def _inspect_folder(self, raw: GlueTable, day: str) -> RawFolder:
        info = RawFolder(day=day)
        objects = self._data_objects(raw.bucket, raw.day_prefix(day))
        info.files = len(objects)
        info.bytes = sum(o["Size"] for o in objects)
        with ThreadPoolExecutor(max_workers=_SNIFF_WORKERS) as pool:
            problems = pool.map(lambda o: self._sniff(raw.bucket, o), objects)
            for obj, problem in zip(objects, problems, strict=True):
                if problem:
                    info.problems.append(f"{obj['Key'].rsplit('/', 1)[-1]}: {problem}")
        return info

    def _data_objects(self, bucket: str, prefix: str) -> list[dict]:
        """The objects under `prefix` an engine reads (names starting `_` or `.` it skips)."""
        return [o for o in self._objects(bucket, prefix)
                if not o["Key"].rsplit("/", 1)[-1].startswith(("_", "."))]

    def _sniff(self, bucket: str, obj: dict) -> str | None:
        """Check an object's first line with ranged reads; never reads the whole object."""
        key, size = obj["Key"], obj["Size"]
        if size == 0:
            return "empty"
        gzipped = key.endswith(".gz")
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text, offset = b"", 0
        while b"\n" not in text and offset < min(size, _SNIFF_LIMIT):
            end = min(size, offset + _SNIFF_STEP) - 1
            try:
                chunk = self.s3.get_object(Bucket=bucket, Key=key,
                                           Range=f"bytes={offset}-{end}")["Body"].read()
            except ClientError as e:  # e.g. deleted since the listing: reported, not fatal
                return f"not readable ({e.response['Error'].get('Code')})"
            offset = end + 1
            if not gzipped:
                text += chunk
                continue
            try:
                text += inflate.decompress(chunk)
            except zlib.error:
                return "not readable as gzip"
        return first_line_problem(text.split(b"\n", 1)[0])

    def _create_partitions(self, raw: GlueTable, days: list[str]) -> None:
        self._batch_create(raw.name, [(day, raw.uri(raw.day_prefix(day))) for day in days],
                           raw.storage)

    def _batch_create(self, table: str, locations: list[tuple[str, str]], storage: dict,
                      *, ignore_existing: bool = True) -> None:
        inputs = [{"Values": [day], "StorageDescriptor": {**storage, "Location": location}}
                  for day, location in locations]
        errors = []
        for i in range(0, len(inputs), _GLUE_PARTITION_BATCH):
            answer = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=table,
                PartitionInputList=inputs[i:i + _GLUE_PARTITION_BATCH])
            errors += [e for e in answer.get("Errors", []) if not ignore_existing
                       or e["ErrorDetail"].get("ErrorCode") != "AlreadyExistsException"]
        if errors:
            first = errors[0]
            raise CatalogBackendError(
                f"Glue refused {len(errors)} {table} partition(s), first "
                f"{first['PartitionValues']}: {first['ErrorDetail'].get('ErrorCode')}: "
                f"{first['ErrorDetail'].get('ErrorMessage')}")

    def _partitions(self, table: str, days: list[str]) -> dict[str, dict]:
        """The existing partitions among `days`, by day."""
        found: dict[str, dict] = {}
        for i in range(0, len(days), _GLUE_GET_BATCH):
            answer = self.glue.batch_get_partition(
                DatabaseName=self.database, TableName=table,
                PartitionsToGet=[{"Values": [d]} for d in days[i:i + _GLUE_GET_BATCH]])
            for p in answer.get("Partitions", []):
                found[p["Values"][0]] = p
        return found

    def _missing_partitions(self, raw: GlueTable, days: list[str]) -> list[str]:
        have = self._partitions(raw.name, days)
        return [d for d in days if d not in have]

    def _verify_partitions(self, raw: GlueTable, days: list[str]) -> None:
        missing = self._missing_partitions(raw, days)
        if missing:
            how = (f"crawler {self.settings.glue_crawler!r} finished but"
                   if self.settings.crawler_mode == "crawler" else "after registering,")
            raise CrawlerError(
                f"{how} Glue has no {raw.name} partition for dt={', '.join(missing)} although "
                "the landing folder holds objects; check the crawler's targets and its log in "
                "CloudWatch (/aws-glue/crawlers)")

    # ------------------------------------------------------------------ the crawler

    def _crawl(self, raw: GlueTable, days: list[str]) -> None:
        """One crawl over the day prefixes: update targets, start, wait for READY, check."""
        name = self.settings.glue_crawler
        timeout = self.settings.crawler_timeout_seconds
        deadline = time.monotonic() + timeout
        for attempt in (1, 2):
            crawler = self._wait_ready(name, deadline, timeout, previous=None)
            previous = crawler.get("LastCrawl")
            try:
                self._retarget(crawler, raw, days)
                self.glue.start_crawler(Name=name)
                break
            except ClientError as e:
                if e.response["Error"]["Code"] != "CrawlerRunningException" or attempt == 2:
                    raise
                # someone else started it between our wait and our update or start (the
                # glue_crawler pool prevents it within Dagster): wait, then retarget again
        finished = self._wait_ready(name, deadline, timeout, previous=previous)
        last = finished.get("LastCrawl") or {}
        status = last.get("Status")
        where = f"log group {last.get('LogGroup')}, stream {last.get('LogStream')}"
        if status in _DONE_CRAWL:
            return
        if status == "FAILED":
            raise CrawlerError(f"Glue crawler {name!r} failed: "
                               f"{last.get('ErrorMessage') or 'no error message'} ({where})")
        if status in _CANCELLED_CRAWL:
            raise CrawlerError(f"Glue crawler {name!r} was cancelled before it finished; "
                               f"rerun the partition ({where})")
        raise CrawlerError(f"Glue crawler {name!r} ended with unknown status {status!r} ({where})")

    def _retarget(self, crawler: dict, raw: GlueTable, days: list[str]) -> None:
        """Point an S3-target crawler at exactly these day folders, the deployed
        exclusions kept; a catalog-target crawler always crawls the table's whole
        location and is left as it is."""
        targets = crawler.get("Targets") or {}
        if not targets.get("S3Targets"):
            return
        self._check_crawler_output(crawler, raw)
        keep = {k: v for k, v in targets["S3Targets"][0].items() if k != "Path"}
        wanted = [{**keep, "Path": raw.uri(raw.day_prefix(d))} for d in days]
        if [t.get("Path") for t in targets["S3Targets"]] != [w["Path"] for w in wanted]:
            self.glue.update_crawler(Name=crawler["Name"],
                                     Targets={**targets, "S3Targets": wanted})

    def _check_crawler_output(self, crawler: dict, raw: GlueTable) -> None:
        """A crawler over day folders names its table after the folder at its table level
        (the bucket is level 1) plus its TablePrefix; one that would not land in
        `landing_events` is refused before it runs (a crawl is billed 10 minutes at least)."""
        try:
            config = json.loads(crawler.get("Configuration") or "{}")
        except ValueError:
            config = {}
        level = (config.get("Grouping") or {}).get("TableLevelConfiguration")
        folders = [p for p in raw.prefix.split("/") if p]
        name = f"{crawler.get('TablePrefix') or ''}{folders[-1] if folders else raw.bucket}"
        if (crawler.get("DatabaseName") == self.database and level == len(folders) + 1
                and name == raw.name):
            return
        raise CrawlerError(
            f"Glue crawler {crawler.get('Name')!r} would not write {self.database}.{raw.name} "
            f"when pointed at day folders (database {crawler.get('DatabaseName')!r}, table "
            f"prefix {crawler.get('TablePrefix')!r}, TableLevelConfiguration {level!r}; "
            f"expected {self.database!r}, a prefix making {raw.name!r} from "
            f"{(folders or [raw.bucket])[-1]!r}, and level {len(folders) + 1}); redeploy the "
            "analytics stack")

    def _wait_ready(self, name: str, deadline: float, timeout: float,
                    previous: dict | None) -> dict:
        """Poll until the crawler is READY (and, given `previous`, has a newer last crawl)."""
        while True:
            try:
                crawler = self.glue.get_crawler(Name=name)["Crawler"]
            except ClientError as e:
                if e.response["Error"]["Code"] == "EntityNotFoundException":
                    raise CrawlerError(f"Glue crawler {name!r} does not exist: check "
                                       "EDGESTATS_GLUE_CRAWLER against the stack outputs") from None
                raise
            last = crawler.get("LastCrawl")
            newer = previous is None or (last is not None and _crawl_key(last) != _crawl_key(previous))
            if crawler.get("State") == "READY" and newer:
                return crawler
            if time.monotonic() >= deadline:
                raise CrawlerTimeout(
                    f"Glue crawler {name!r} did not finish within {timeout:g} s (state "
                    f"{crawler.get('State')}); it may still be running: check it in the Glue "
                    "console, or raise EDGESTATS_CRAWLER_TIMEOUT_SECONDS")
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())) or 0.01)

    # ------------------------------------------------------------------ reading the landing

    @contextmanager
    def raw_scan(self, folders: DayRange,
                 columns: tuple[str, ...] | None = None) -> Iterator[RawScan]:
        """Statements over `raw_events` in the block read S3 themselves; the scan lists
        what they read, names the objects found damaged (now or by an earlier scan:
        the quarantine keeps them), and lets `_run` repair one that fails a statement."""
        self._ensure_raw_view()
        bucket, root = self._landing_root()
        scan = RawScan(files_read=0, bytes_read=0)
        for day in folders.keys:
            live = {o["Key"].rsplit("/", 1)[-1]: o["Size"]
                    for o in self._data_objects(bucket, f"{root}events/dt={day}/")}
            scan.files_read += len(live)
            scan.bytes_read += sum(live.values())
            quarantined = {o["Key"].rsplit("/", 1)[-1]
                           for o in self._data_objects(bucket, f"{root}{QUARANTINE}/dt={day}/")}
            for name in sorted(set(live) | quarantined):
                if name in quarantined:
                    kind = scan.truncated_files if name in live else scan.unreadable_files
                    kind.append(f"dt={day}/{name}")
                elif live[name] == 0:  # nothing to read: what the local reader calls unreadable
                    scan.unreadable_files.append(f"dt={day}/{name}")
        self._scan = (folders, scan)
        try:
            yield scan
        finally:
            self._scan = None

    def _damaged_object(self, error: QueryFailed) -> str | None:
        """The landing object key a reading failure names, "" when it names none, or None
        when the failure is not one of reading an object."""
        text = error.reason or str(error)
        if error.error_name not in READ_FAILURES and not any(c in text for c in READ_FAILURES):
            return None
        bucket, root = self._landing_root()
        for uri in _S3_URI.findall(text):
            b, key = split_s3_uri(uri)
            key = key.rstrip("/")
            if b == bucket and key.startswith(f"{root}events/dt="):
                return key
        return ""

    def _run(self, sql: str, what: str) -> Executed:
        """`_execute`, repairing a damaged landing object that fails it inside a scan."""
        repaired: set[str] = set()
        while True:
            try:
                return self._execute(sql, what)
            except QueryFailed as e:
                key = self._damaged_object(e) if self._scan else None
                if key is None:
                    raise
                fixed = self._repair([key] if key else self._scanned_keys(), repaired)
                if not fixed:
                    raise
                repaired |= set(fixed)

    def _scanned_keys(self) -> list[str]:
        assert self._scan is not None
        bucket, root = self._landing_root()
        return [o["Key"] for day in self._scan[0].keys
                for o in self._data_objects(bucket, f"{root}events/dt={day}/")]

    def _repair(self, keys: list[str], done: set[str]) -> list[str]:
        """Quarantine the damaged ones of `keys` and put their readable lines back; the
        keys repaired (an intact object is left as it is)."""
        bucket, root = self._landing_root()
        fixed = []
        for key in keys:
            if key in done:
                continue
            try:
                raw = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError:
                continue
            text, state = landing_reader.inflate_bytes(raw)
            if state == "ok" and raw:
                continue
            day_name = key[len(f"{root}events/"):]  # dt=D/<name>
            self.s3.put_object(Bucket=bucket, Key=f"{root}{QUARANTINE}/{day_name}", Body=raw)
            if text:
                self.s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text, mtime=0))
                self._scan[1].truncated_files.append(day_name)
            else:
                self.s3.delete_object(Bucket=bucket, Key=key)
                self._scan[1].unreadable_files.append(day_name)
            fixed.append(key)
        return fixed

    # ------------------------------------------------------------------ statements

    def query(self, sql: str) -> QueryResult:
        done = self._run(sql, "query")
        return QueryResult(done.columns, done.rows, query_id=done.query_id,
                           bytes_scanned=done.bytes_scanned, engine_seconds=done.engine_ms / 1000,
                           cost_usd=self._cost(done))

    # ------------------------------------------------------------------ writes

    def replace_partitions(self, table: str, days: DayRange, sql: str) -> WriteResult:
        started = time.perf_counter()
        if table not in WAREHOUSE_TABLES:
            raise ValueError(f"unknown warehouse table {table!r}")
        identifier(table)
        if len(days) > MAX_PARTITIONS_PER_STATEMENT:
            raise ValueError(f"{table}: {len(days)} days in one statement; at most "
                             f"{MAX_PARTITIONS_PER_STATEMENT} partitions (split with DayRange.chunks)")
        target = self._table(table)
        keys = [parse_day(d).isoformat() for d in days.keys]
        now = time.time()
        generation = (f"{target.prefix}{GENERATION_PREFIX}"
                      f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}-{uuid.uuid4().hex[:8]}/")
        fresh = {day: f"{generation}{PARTITION_COLUMN}={day}/" for day in keys}
        scratch = f"{table}__w{uuid.uuid4().hex[:12]}"
        what = f"{table} {days}"
        self._create_scratch(target, scratch, generation)
        try:
            columns = ", ".join([*(identifier(c) for c, _ in WAREHOUSE_TABLES[table]),
                                 PARTITION_COLUMN])
            insert = self._run(f"INSERT INTO {scratch} ({columns})\n{sql.strip().rstrip(';')}",
                               f"writing {what}")
            count = self._run(f"SELECT {PARTITION_COLUMN}, count(*) AS row_count "  # noqa: S608 - validated names
                              f"FROM {scratch} GROUP BY {PARTITION_COLUMN}",
                              f"counting rows of {what}")
            rows_by_day = dict.fromkeys(keys, 0)
            strays = []
            for day, n in count.rows:
                if day in rows_by_day:
                    rows_by_day[day] = int(n)
                else:
                    strays.append(day)
            if strays:
                raise CatalogBackendError(
                    f"{table}: the statement wrote rows for days outside {days}: "
                    f"{sorted(strays)[:5]} (query {insert.query_id}); nothing was replaced")
            if insert.update_count is not None and insert.update_count != sum(rows_by_day.values()):
                raise CatalogBackendError(
                    f"{table}: INSERT wrote {insert.update_count} rows but the new days hold "
                    f"{sum(rows_by_day.values())} (query {insert.query_id}); nothing was replaced")
            replaced = self._repoint(target, fresh)
        except BaseException:
            # the old days are untouched; the new version goes (rows outside the days too)
            self._delete_keys(target.bucket, [o["Key"] for o in
                                              self._objects(target.bucket, generation)])
            raise
        finally:
            self._drop_scratch(scratch)
        self._forget_old_versions(target, keys, fresh, replaced, now)
        self._drop_stale_scratch(table, now)
        done = [insert, count]
        return WriteResult(
            table=table,
            rows_by_day=rows_by_day,
            bytes_written=sum(o["Size"] for o in self._objects(target.bucket, generation)),
            bytes_scanned=sum(d.bytes_scanned for d in done),
            seconds=time.perf_counter() - started,
            query_ids=[d.query_id for d in done if d.query_id],
            engine_seconds=sum(d.engine_ms for d in done) / 1000,
            cost_usd=(None if all(self._cost(d) is None for d in done)
                      else sum(self._cost(d) or 0.0 for d in done)),
        )

    def _create_scratch(self, target: GlueTable, scratch: str, generation: str) -> None:
        """A table like `target` located at the new version's prefix: an INSERT into it
        writes `<generation>dt=D/` for each day, where no reader looks yet."""
        table_input = json.loads(json.dumps(target.table_input, default=str))
        table_input["Name"] = scratch
        table_input["StorageDescriptor"]["Location"] = target.uri(generation)
        table_input.setdefault("Parameters", {})["edgestats_scratch_for"] = target.name
        self.glue.create_table(DatabaseName=self.database, TableInput=table_input)

    def _repoint(self, target: GlueTable, fresh: dict[str, str]) -> dict[str, str]:
        """Point each day's partition at its new prefix (a day without rows: an empty
        one); returns the prefixes the days had before."""
        existing = self._partitions(target.name, list(fresh))
        replaced: dict[str, str] = {}
        updates = []
        for day, prefix in fresh.items():
            if day not in existing:
                continue
            with suppress(ValueError):
                replaced[day] = _folder(split_s3_uri(
                    existing[day]["StorageDescriptor"].get("Location", ""))[1])
            updates.append({"PartitionValueList": [day], "PartitionInput": {
                "Values": [day],
                "StorageDescriptor": {**target.storage, "Location": target.uri(prefix)}}})
        for i in range(0, len(updates), _GLUE_PARTITION_BATCH):
            answer = self.glue.batch_update_partition(
                DatabaseName=self.database, TableName=target.name,
                Entries=updates[i:i + _GLUE_PARTITION_BATCH])
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise CatalogBackendError(
                    f"Glue refused to repoint {len(answer['Errors'])} {target.name} "
                    f"partition(s), first {first.get('PartitionValueList')}: "
                    f"{first.get('ErrorDetail', {}).get('ErrorMessage')}")
        missing = [(d, target.uri(p)) for d, p in fresh.items() if d not in existing]
        if missing:
            self._batch_create(target.name, missing, target.storage)
            created = self._partitions(target.name, [d for d, _ in missing])
            for day, location in missing:  # another writer created it first: repoint it
                got = created.get(day, {}).get("StorageDescriptor", {}).get("Location")
                if got != location:
                    self.glue.update_partition(
                        DatabaseName=self.database, TableName=target.name,
                        PartitionValueList=[day], PartitionInput={
                            "Values": [day],
                            "StorageDescriptor": {**target.storage, "Location": location}})
        return replaced

    def _forget_old_versions(self, target: GlueTable, days: list[str], fresh: dict[str, str],
                             replaced: dict[str, str], now: float) -> None:
        """Delete every version of the days but the new and the replaced one: those of
        earlier layouts (`<table>/dt=D/`) and of generations `<table>/gen-*/dt=D/`; a
        generation started within the last hour may be another writer's and is left."""
        listing = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=target.bucket, Prefix=target.prefix, Delimiter="/")
        generations = [p["Prefix"] for page in listing for p in page.get("CommonPrefixes", [])
                       if p["Prefix"][len(target.prefix):].startswith(GENERATION_PREFIX)]
        doomed = []
        for day in days:
            keep = {fresh[day], replaced.get(day)}
            versions = [target.day_prefix(day)]
            versions += [f"{g}{PARTITION_COLUMN}={day}/" for g in generations
                         if _is_stale(g[len(target.prefix):], now)]
            for prefix in versions:
                if prefix not in keep:
                    doomed += [o["Key"] for o in self._objects(target.bucket, prefix)]
        self._delete_keys(target.bucket, doomed)

    def _drop_scratch(self, scratch: str) -> None:
        try:
            self.glue.delete_table(DatabaseName=self.database, Name=scratch)
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityNotFoundException":
                raise

    def _drop_stale_scratch(self, table: str, now: float) -> None:
        """Scratch tables a killed run left behind (their data went with `_forget_old_versions`)."""
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database)
        for page in pages:
            for t in page.get("TableList", []):
                created = t.get("CreateTime")
                if (t["Name"].startswith(f"{table}__w") and created is not None
                        and now - created.timestamp() > STALE_AFTER_S):
                    self._drop_scratch(t["Name"])

    def stored_bytes(self, table: str, days: DayRange) -> int:
        if table not in WAREHOUSE_TABLES:
            raise ValueError(f"unknown warehouse table {table!r}")
        self._table(table)  # checks the deployed layout
        total = 0
        for part in self._partitions(table, days.keys).values():
            bucket, prefix = split_s3_uri(part["StorageDescriptor"]["Location"])
            total += sum(o["Size"] for o in self._objects(bucket, _folder(prefix),
                                                           delimiter=True))
        return total

    def landing_objects(self, area: str, days: DayRange) -> list[LandingObject]:
        if area not in LANDING_AREAS:
            raise ValueError(f"unknown landing area {area!r}")
        bucket, root = self._landing_root()
        if area == "events":
            prefixes = {day: [f"{root}events/dt={day}/"] for day in days.keys}
        else:  # errors/<error-type>/dt=D/: one listing of the types, then one per type and day
            listing = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{root}errors/", Delimiter="/")
            types = [p["Prefix"] for page in listing for p in page.get("CommonPrefixes", [])]
            prefixes = {day: [f"{t}dt={day}/" for t in types] for day in days.keys}
        found = []
        for day, day_prefixes in prefixes.items():
            for prefix in day_prefixes:
                objects = {o["Key"][len(root):]: o["Size"] for o in self._data_objects(bucket, prefix)}
                if area == "events":  # as delivered: a repaired object by its original
                    for o in self._data_objects(bucket, f"{root}{QUARANTINE}/dt={day}/"):
                        objects[f"events/{o['Key'][len(root) + len(QUARANTINE) + 1:]}"] = o["Size"]
                found += [LandingObject(key=k, day=day, bytes=n) for k, n in sorted(objects.items())]
        return found

    def _landing_root(self) -> tuple[str, str]:
        """The landing bucket and the prefix `events/` and `errors/` sit under:
        EDGESTATS_LANDING_URI, else the folder above the landing table's location."""
        if self.settings.landing_uri:
            try:
                return split_s3_uri(self.settings.landing_uri)
            except ValueError as e:
                raise ConfigError(f"EDGESTATS_LANDING_URI: {e}") from None
        raw = self._table(LANDING_TABLE)
        return raw.bucket, raw.prefix.removesuffix("events/")

    # ------------------------------------------------------------------ S3

    def _objects(self, bucket: str, prefix: str, delimiter: bool = False):
        extra = {"Delimiter": "/"} if delimiter else {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": _S3_LIST_PAGE}, **extra)
        for page in pages:
            yield from page.get("Contents", [])

    def _delete_keys(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            if f"/{PARTITION_COLUMN}=" not in f"/{key}":
                raise ValueError(f"refusing to delete s3://{bucket}/{key}: not in a day's folder")
        for i in range(0, len(keys), _S3_DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i:i + _S3_DELETE_BATCH]]
            answer = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise CatalogBackendError(
                    f"S3 refused to delete {len(answer['Errors'])} object(s) in "
                    f"s3://{bucket}, first {first.get('Key')}: {first.get('Code')}: "
                    f"{first.get('Message')}")

    def close(self) -> None:
        self.glue.close()
        self.s3.close()


def _folder(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def _crawl_key(last: dict) -> tuple:
    return (last.get("MessagePrefix"), str(last.get("StartTime")))
