"""The `athena` backend: Athena runs the pipeline's SQL as written, Glue holds the tables,
S3 holds the data (DESIGN 5 and 7).

- Statements go through pyathena (the workgroup's result location and byte cutoff apply);
  Glue and S3 are plain boto3 clients, S3 through dagster-aws's `S3Resource`.
- Table locations come from the Glue catalog (what the analytics stack deployed), so the
  S3 prefixes this module deletes are exactly the ones Athena writes and reads.
- `raw_events` partitions are registered by the Glue partition API (default, no crawler
  minimum charge) or by a crawler run over the day folders not registered yet
  (`EDGESTATS_CRAWLER_MODE=crawler`; no crawl when all are): the crawler's S3 targets
  are set to exactly those `events/dt=D/` folders (the deployed exclusions kept), then
  it is started, awaited until READY, its LastCrawl read, and each partition checked
  with `get_partition`.  Crawls of one crawler must
  not overlap: assets that register raw partitions belong in the Dagster
  pool `CRAWLER_POOL` with a limit of 1; this module also waits for a crawl already running.
- A write replaces days as DESIGN 7 says: delete each day's prefix, drop the partitions,
  `INSERT INTO`; a failed statement raises `AthenaQueryFailed` with Athena's own reason.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from pyathena import connect
from pyathena.error import Error as PyAthenaError

from edge.config import ConfigError, Settings
from orchestration.defs import common as _defs_common
from orchestration.engine import (
    LANDING_AREAS,
    MAX_PARTITIONS_PER_STATEMENT,
    DayRange,
    Engine,
    LandingObject,
    QueryResult,
    RawFolder,
    RawRegistration,
    WriteResult,
    first_line_problem,
    parse_day,
)
from orchestration.statements import identifier
from orchestration.tables import PARTITION_COLUMN, WAREHOUSE_TABLES

# The Dagster pool (limit 1) of the asset that may start the crawler; declared with the
# assets, named here for readers of this module.
CRAWLER_POOL = _defs_common.CRAWLER_POOL

# Athena list price: $5 per TB scanned, rounded up to the MB, 10 MB minimum per query;
# DDL statements and failed queries are free.
USD_PER_TB = 5.0
BYTES_PER_TB = 1024**4
BILLING_STEP_BYTES = 1024**2
MIN_BILLED_BYTES = 10 * 1024**2

RAW_TABLE = "raw_events"
_S3_DELETE_BATCH = 1000  # DeleteObjects limit
_S3_LIST_PAGE = 1000  # ListObjectsV2 page
_GLUE_PARTITION_BATCH = 100  # BatchCreatePartition limit
_SNIFF_STEP = 4096  # ranged reads until the first line is out
_SNIFF_LIMIT = 64 * 1024
_SNIFF_WORKERS = 16
_DONE_CRAWL = {"SUCCEEDED", "COMPLETED"}  # COMPLETED: what moto reports for a finished crawl
_CANCELLED_CRAWL = {"CANCELLED", "STOPPED"}  # STOPPED: moto's word for it


class AthenaBackendError(RuntimeError):
    """Athena, Glue or S3 refused or failed; the message names what and what to check."""


class AthenaQueryFailed(AthenaBackendError):
    """An Athena statement ended FAILED or CANCELLED, or could not be started."""

    def __init__(self, message: str, query_id: str | None, state: str, reason: str | None):
        super().__init__(message)
        self.query_id = query_id
        self.state = state
        self.reason = reason


class CrawlerError(AthenaBackendError):
    """The Glue crawler failed, was cancelled, or did not register the partitions."""


class CrawlerTimeout(CrawlerError):
    """The crawler did not reach READY within the configured time."""


def scan_cost_usd(bytes_scanned: int | None, statement_type: str | None = "DML") -> float:
    """What Athena bills for one successful statement at list price."""
    if statement_type == "DDL":
        return 0.0
    billed = max(MIN_BILLED_BYTES,
                 math.ceil((bytes_scanned or 0) / BILLING_STEP_BYTES) * BILLING_STEP_BYTES)
    return billed / BYTES_PER_TB * USD_PER_TB


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
    """What one Athena statement returned and cost."""

    query_id: str | None
    statement_type: str | None
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    bytes_scanned: int = 0
    engine_ms: int = 0
    update_count: int | None = None

    @property
    def cost_usd(self) -> float:
        return scan_cost_usd(self.bytes_scanned, self.statement_type)


@dataclass(frozen=True)
class GlueTable:
    name: str
    bucket: str
    prefix: str  # ends in "/"
    storage: dict  # the table's StorageDescriptor, for partitions
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]

    def day_prefix(self, day: str) -> str:
        return f"{self.prefix}{PARTITION_COLUMN}={parse_day(day).isoformat()}/"


class AthenaEngine(Engine):
    name = "athena"

    def __init__(self, settings: Settings, *, poll_seconds: float = 5.0,
                 athena_poll_seconds: float = 0.5):
        self.settings = settings
        if not settings.aws_region:
            raise ConfigError("the athena backend needs the analytics region: "
                              "set EDGESTATS_AWS_REGION")
        if not settings.athena_workgroup and not settings.athena_output:
            raise ConfigError("the athena backend needs EDGESTATS_ATHENA_WORKGROUP "
                              "(or EDGESTATS_ATHENA_OUTPUT, an s3:// result location)")
        try:
            self.database = identifier(settings.athena_database)
        except ValueError as e:
            raise ConfigError(f"EDGESTATS_GLUE_DATABASE: {e}") from None
        if settings.crawler_mode == "crawler" and not settings.glue_crawler:
            raise ConfigError("EDGESTATS_CRAWLER_MODE=crawler needs EDGESTATS_GLUE_CRAWLER "
                              "(the crawler name from the analytics stack outputs)")
        self.poll_seconds = poll_seconds
        self.athena_poll_seconds = athena_poll_seconds
        self._session = boto3.Session(region_name=settings.aws_region)  # Glue and Athena
        self.glue = self._session.client("glue", endpoint_url=settings.aws_endpoint_url)
        self.s3 = S3Resource(region_name=settings.aws_region,
                             endpoint_url=settings.aws_endpoint_url).get_client()
        self._tables: dict[str, GlueTable] = {}

    @cached_property
    def _connection(self):
        return connect(
            session=self._session,
            s3_staging_dir=self.settings.athena_output,
            work_group=self.settings.athena_workgroup or "",
            region_name=self.settings.aws_region,
            endpoint_url=self.settings.aws_endpoint_url,
            schema_name=self.database,
            poll_interval=self.athena_poll_seconds,
        )

    # ------------------------------------------------------------------ catalog

    def _table(self, name: str) -> GlueTable:
        if name in self._tables:
            return self._tables[name]
        identifier(name)
        try:
            found = self.glue.get_table(DatabaseName=self.database, Name=name)["Table"]
        except ClientError as e:
            if e.response["Error"]["Code"] == "EntityNotFoundException":
                raise AthenaBackendError(
                    f"Glue table {self.database}.{name} does not exist: deploy the analytics "
                    "stack (docs/deploy.md) or check EDGESTATS_GLUE_DATABASE") from None
            raise
        storage = found["StorageDescriptor"]
        try:
            bucket, prefix = split_s3_uri(storage.get("Location", ""))
        except ValueError as e:
            raise AthenaBackendError(f"Glue table {self.database}.{name}: {e}") from None
        table = GlueTable(
            name=name, bucket=bucket, prefix=prefix, storage=storage,
            columns=tuple((c["Name"].lower(), c["Type"].lower()) for c in storage["Columns"]),
            partition_keys=tuple((k["Name"].lower(), k["Type"].lower())
                                 for k in found.get("PartitionKeys", [])),
        )
        self._check_layout(table)
        self._tables[name] = table
        return table

    def _check_layout(self, table: GlueTable) -> None:
        """Fail early, and say why, when the deployed table is not the one the SQL writes."""
        if table.partition_keys != ((PARTITION_COLUMN, "string"),):
            raise AthenaBackendError(
                f"Glue table {self.database}.{table.name} is partitioned by "
                f"{list(table.partition_keys)}, expected [('dt', 'string')]; redeploy the "
                "analytics stack")
        expected = WAREHOUSE_TABLES.get(table.name)
        if expected is None or table.columns == expected:
            return
        diffs = [f"{i}: deployed {d!r}, pipeline {p!r}"
                 for i, (d, p) in enumerate(zip(table.columns, expected, strict=False)) if d != p]
        if len(table.columns) != len(expected):
            diffs.append(f"deployed {len(table.columns)} columns, pipeline {len(expected)}")
        raise AthenaBackendError(
            f"Glue table {self.database}.{table.name} does not match orchestration/tables.py "
            f"({'; '.join(diffs[:4])}); redeploy the analytics stack")

    # ------------------------------------------------------------------ raw partitions

    def register_raw_partitions(self, folders: DayRange) -> RawRegistration:
        raw = self._table(RAW_TABLE)
        found = [self._inspect_folder(raw, day) for day in folders.keys]
        days = [f.day for f in found if f.files]
        if days and self.settings.crawler_mode == "crawler":
            # a registered folder needs no crawl: Athena lists its objects at query time
            missing = self._missing_partitions(raw, days)
            if missing:
                self._crawl(raw, missing)
        elif days:
            self._create_partitions(raw, days)
        self._verify_partitions(raw, days)
        return RawRegistration(found)

    def _inspect_folder(self, raw: GlueTable, day: str) -> RawFolder:
        info = RawFolder(day=day)
        objects = [o for o in self._objects(raw.bucket, raw.day_prefix(day))
                   if not o["Key"].rsplit("/", 1)[-1].startswith(("_", "."))]  # Athena skips these
        info.files = len(objects)
        info.bytes = sum(o["Size"] for o in objects)
        with ThreadPoolExecutor(max_workers=_SNIFF_WORKERS) as pool:
            problems = pool.map(lambda o: self._sniff(raw.bucket, o), objects)
            for obj, problem in zip(objects, problems, strict=True):
                if problem:
                    info.problems.append(f"{obj['Key'].rsplit('/', 1)[-1]}: {problem}")
        return info

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
        inputs = [{"Values": [day],
                   "StorageDescriptor": {**raw.storage,
                                         "Location": f"s3://{raw.bucket}/{raw.day_prefix(day)}"}}
                  for day in days]
        errors = []
        for i in range(0, len(inputs), _GLUE_PARTITION_BATCH):
            answer = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=raw.name,
                PartitionInputList=inputs[i:i + _GLUE_PARTITION_BATCH])
            errors += [e for e in answer.get("Errors", [])
                       if e["ErrorDetail"].get("ErrorCode") != "AlreadyExistsException"]
        if errors:
            first = errors[0]
            raise AthenaBackendError(
                f"Glue refused {len(errors)} {raw.name} partition(s), first "
                f"{first['PartitionValues']}: {first['ErrorDetail'].get('ErrorCode')}: "
                f"{first['ErrorDetail'].get('ErrorMessage')}")

    def _missing_partitions(self, raw: GlueTable, days: list[str]) -> list[str]:
        missing = []
        for day in days:
            try:
                self.glue.get_partition(DatabaseName=self.database, TableName=raw.name,
                                        PartitionValues=[day])
            except ClientError as e:
                if e.response["Error"]["Code"] != "EntityNotFoundException":
                    raise
                missing.append(day)
        return missing

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
        wanted = [{**keep, "Path": f"s3://{raw.bucket}/{raw.day_prefix(d)}"} for d in days]
        if [t.get("Path") for t in targets["S3Targets"]] != [w["Path"] for w in wanted]:
            self.glue.update_crawler(Name=crawler["Name"],
                                     Targets={**targets, "S3Targets": wanted})

    def _check_crawler_output(self, crawler: dict, raw: GlueTable) -> None:
        """A crawler over day folders names its table after the folder at its table level
        (the bucket is level 1) plus its TablePrefix; one that would not land in
        `raw_events` is refused before it runs (each crawl is billed 10 minutes at least)."""
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

    # ------------------------------------------------------------------ statements

    def _execute(self, sql: str, what: str) -> Executed:
        """One statement through pyathena; a failure carries Athena's reason and query id."""
        polled: list = []
        cursor = self._connection.cursor(on_poll=polled.append)
        try:
            try:
                cursor.execute(sql)
            except PyAthenaError as e:
                execution = polled[-1] if polled else None
                state = execution.state if execution else "NOT STARTED"
                message = e.args[0] if e.args else None  # pyathena: the reason, or None
                reason = ((execution.state_change_reason if execution else None)
                          or (str(message) if message else None))
                query_id = cursor.query_id
                raise AthenaQueryFailed(
                    f"Athena query {query_id or '(not started)'} for {what} {state}: "
                    f"{reason or 'no reason given'}", query_id, state, reason) from None
            execution = polled[-1] if polled else None
            columns = [d[0] for d in cursor.description] if cursor.description else []
            rows = [tuple(r) for r in cursor.fetchall()] if columns else []
            return Executed(
                query_id=cursor.query_id,
                statement_type=execution.statement_type if execution else None,
                columns=columns,
                rows=rows,
                bytes_scanned=cursor.data_scanned_in_bytes or 0,
                engine_ms=cursor.engine_execution_time_in_millis or 0,
                update_count=cursor.rowcount if cursor.rowcount >= 0 else None,
            )
        finally:
            cursor.close()

    def query(self, sql: str) -> QueryResult:
        done = self._execute(sql, "query")
        return QueryResult(done.columns, done.rows, query_id=done.query_id,
                           bytes_scanned=done.bytes_scanned, engine_seconds=done.engine_ms / 1000,
                           cost_usd=done.cost_usd)

    # ------------------------------------------------------------------ writes

    def replace_partitions(self, table: str, days: DayRange, sql: str) -> WriteResult:
        started = time.perf_counter()
        if table not in WAREHOUSE_TABLES:
            raise ValueError(f"unknown warehouse table {table!r}")
        identifier(table)
        if len(days) > MAX_PARTITIONS_PER_STATEMENT:
            raise ValueError(f"{table}: {len(days)} days in one statement; Athena writes at most "
                             f"{MAX_PARTITIONS_PER_STATEMENT} partitions (split with DayRange.chunks)")
        keys = [parse_day(d).isoformat() for d in days.keys]
        target = self._table(table)
        for day in keys:
            self._delete_prefix(target.bucket, target.day_prefix(day))
        what = f"{table} {days}"
        drop = (f"ALTER TABLE {table} DROP IF EXISTS "
                + ", ".join(f"PARTITION ({PARTITION_COLUMN} = '{d}')" for d in keys))
        columns = ", ".join([*(identifier(c) for c, _ in WAREHOUSE_TABLES[table]), PARTITION_COLUMN])
        insert = f"INSERT INTO {table} ({columns})\n{sql.strip().rstrip(';')}"
        count = (f"SELECT {PARTITION_COLUMN}, count(*) AS row_count FROM {table} "  # noqa: S608 - validated names and days
                 f"WHERE {PARTITION_COLUMN} BETWEEN '{keys[0]}' AND '{keys[-1]}' "
                 f"GROUP BY {PARTITION_COLUMN}")
        done = [self._execute(drop, f"dropping partitions of {what}"),
                self._execute(insert, f"writing {what}"),
                self._execute(count, f"counting rows of {what}")]
        rows_by_day = dict.fromkeys(keys, 0)
        for day, n in done[2].rows:
            if day in rows_by_day:
                rows_by_day[day] = int(n)
        inserted = done[1].update_count
        if inserted is not None and inserted != sum(rows_by_day.values()):
            raise AthenaBackendError(
                f"{table}: INSERT wrote {inserted} rows but days {days} hold "
                f"{sum(rows_by_day.values())}; the statement wrote rows outside {days} "
                f"(query {done[1].query_id})")
        return WriteResult(
            table=table,
            rows_by_day=rows_by_day,
            bytes_written=self.stored_bytes(table, days),
            bytes_scanned=sum(d.bytes_scanned for d in done),
            seconds=time.perf_counter() - started,
            query_ids=[d.query_id for d in done if d.query_id],
            engine_seconds=sum(d.engine_ms for d in done) / 1000,
            cost_usd=sum(d.cost_usd for d in done),
        )

    def stored_bytes(self, table: str, days: DayRange) -> int:
        if table not in WAREHOUSE_TABLES:
            raise ValueError(f"unknown warehouse table {table!r}")
        target = self._table(table)
        return sum(o["Size"] for day in days.keys
                   for o in self._objects(target.bucket, target.day_prefix(day)))

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
                for obj in self._objects(bucket, prefix):
                    if not obj["Key"].rsplit("/", 1)[-1].startswith(("_", ".")):
                        found.append(LandingObject(key=obj["Key"][len(root):], day=day,
                                                   bytes=obj["Size"]))
        return found

    def _landing_root(self) -> tuple[str, str]:
        """The landing bucket and the prefix `events/` and `errors/` sit under:
        EDGESTATS_LANDING_URI, else the folder above the raw_events table's location."""
        if self.settings.landing_uri:
            try:
                return split_s3_uri(self.settings.landing_uri)
            except ValueError as e:
                raise ConfigError(f"EDGESTATS_LANDING_URI: {e}") from None
        raw = self._table(RAW_TABLE)
        return raw.bucket, raw.prefix.removesuffix("events/")

    # ------------------------------------------------------------------ S3

    def _objects(self, bucket: str, prefix: str):
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": _S3_LIST_PAGE})
        for page in pages:
            yield from page.get("Contents", [])

    def _delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under `prefix` (which ends in `dt=<day>/`); returns the count."""
        if not prefix.endswith("/") or f"{PARTITION_COLUMN}=" not in prefix:
            raise ValueError(f"refusing to delete s3://{bucket}/{prefix}: not a day's prefix")
        keys = [o["Key"] for o in self._objects(bucket, prefix)]
        for i in range(0, len(keys), _S3_DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i:i + _S3_DELETE_BATCH]]
            answer = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise AthenaBackendError(
                    f"S3 refused to delete {len(answer['Errors'])} object(s) under "
                    f"s3://{bucket}/{prefix}, first {first.get('Key')}: {first.get('Code')}: "
                    f"{first.get('Message')}")
        return len(keys)

    def close(self) -> None:
        if "_connection" in self.__dict__:
            self._connection.close()
        self.glue.close()
        self.s3.close()


def _crawl_key(last: dict) -> tuple:
    return (last.get("MessagePrefix"), str(last.get("StartTime")))
