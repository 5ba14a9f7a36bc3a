"""A moto server on 127.0.0.1 with the AWS world the analytics stack deploys, for the
Athena backend's tests: buckets, the Glue database and tables, a crawler, a workgroup.

Every engine call travels as real boto3/pyathena HTTP to this server.  moto runs no SQL,
its crawler never touches the catalog, and it lacks a few things the engine uses; those
gaps are filled on moto's own in-process models while the server runs (and undone after):

- `UpdateCrawler` is not implemented in moto 5.2: `update_crawler` stores the new
  Targets (and TablePrefix, Configuration, DatabaseName) on moto's crawler and bumps
  its Version, as Glue does; it refuses while a crawl runs, as Glue does.
- A crawl never fails in moto: `fail_crawl` marks the running crawl FAILED with an
  ErrorMessage, which `GetCrawler` then reports in `LastCrawl` as Glue does.
- Athena: moto only has a FIFO queue of canned results (`queue_results`, its documented
  `/moto-api/static/athena/query-results` endpoint), zero statistics and no FAILED state.
  moto also omits SubstatementType (INSERT, SELECT, ...), which pyathena needs to report
  an INSERT's row count; the fixture adds it from the statement's first words.
  `on_query(pattern, ...)` adds a rule: a statement whose SQL matches gets these rows,
  this DataScannedInBytes / EngineExecutionTimeInMillis, this UpdateCount, an effect
  (e.g. the Parquet files an INSERT would write), or ends FAILED with this
  StateChangeReason.  Unmatched statements keep moto's own behaviour.

The crawler's effect on the catalog is played by `CrawlerWorker`, a thread that acts as
Glue's crawler would, through the real API: when a crawl is RUNNING it adds a partition
for each S3 target, then lets moto finish the crawl (a `ListCrawls` call advances moto's
crawl state machine, whose default progression is "manual, once").
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.athena.models import AthenaBackend, QueryResults, athena_backends
from moto.athena.responses import AthenaResponse
from moto.core.responses import EmptyResult
from moto.core.utils import utcnow
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawler, glue_backends
from moto.glue.responses import GlueResponse
from moto.server import ThreadedMotoServer

from edge import catalog
from edge.config import Settings
from edge.schema import COLUMNS
from infra import crawler as crawler_infra
from orchestration.tables import PARTITION_COLUMN

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
DATABASE = "edgestats"
WORKGROUP = "edgestats"
CRAWLER = "edgestats-raw-events"
LANDING = "edgestats-landing"
WAREHOUSE = "edgestats-warehouse"
RESULTS = "edgestats-athena-results"

# the formats infra/analytics.py gives the tables
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@dataclass
class QueryRule:
    """What a matching Athena statement does on this server."""

    pattern: re.Pattern
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, athena type)
    rows: list[tuple] = field(default_factory=list)
    scanned_bytes: int = 0
    engine_ms: int = 0
    update_count: int | None = None
    fail: str | None = None  # StateChangeReason of a FAILED query
    effect: Callable[[str], None] | None = None  # runs with the SQL when the statement starts

    def results(self) -> QueryResults:
        def row(values) -> dict:
            return {"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in values]}

        info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": n,
                 "Label": n, "Type": t, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
                 "CaseSensitive": t == "varchar"} for n, t in self.columns]
        rows = [row(n for n, _ in self.columns)] if self.columns else []  # Athena's header row
        return QueryResults(rows=rows + [row(r) for r in self.rows], column_info=info)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class _Extensions:
    """The in-process additions to moto described in the module docstring."""

    def __init__(self) -> None:
        self.rules: list[QueryRule] = []
        self.outcomes: dict[str, QueryRule] = {}
        self.crawl_errors: dict[str, str] = {}  # crawl id -> ErrorMessage

    def install(self, mp: pytest.MonkeyPatch) -> None:
        ext = self
        store_results = AthenaBackend._store_predefined_query_results
        describe = AthenaResponse.get_query_execution
        fetch = AthenaResponse.get_query_results
        crawler_dict = FakeCrawler.as_dict

        def store_predefined(backend, exec_id: str) -> None:
            execution = backend.executions[exec_id]
            rule = next((r for r in ext.rules if r.pattern.search(execution.query)), None)
            if rule is None:
                return store_results(backend, exec_id)
            ext.outcomes[exec_id] = rule
            backend.query_results[exec_id] = rule.results()
            if rule.effect:
                rule.effect(execution.query)
            if rule.fail:
                execution.status = "FAILED"

        def get_query_execution(response) -> str:
            body = json.loads(describe(response))
            execution = body["QueryExecution"]
            words = execution["Query"].split(None, 2)  # Athena names the kind of statement
            kind = "_".join(words[:2]).upper() if words[:1] == ["ALTER"] else words[0].upper()
            execution["SubstatementType"] = {"ALTER_TABLE": "ALTER_TABLE_DROP_PARTITION", "WITH": "SELECT"}.get(
                kind, kind)
            rule = ext.outcomes.get(execution["QueryExecutionId"])
            if rule:
                stats = body["QueryExecution"]["Statistics"]
                stats["DataScannedInBytes"] = rule.scanned_bytes
                stats["EngineExecutionTimeInMillis"] = rule.engine_ms
                stats["TotalExecutionTimeInMillis"] = rule.engine_ms
                if rule.fail:
                    body["QueryExecution"]["Status"]["StateChangeReason"] = rule.fail
                    body["QueryExecution"]["Status"]["AthenaError"] = {
                        "ErrorCategory": 2, "ErrorType": 1006, "Retryable": False,
                        "ErrorMessage": rule.fail}
            return json.dumps(body)

        def get_query_results(response) -> str:
            body = json.loads(fetch(response))
            rule = ext.outcomes.get(response._get_param("QueryExecutionId"))
            if rule and rule.update_count is not None:
                body["UpdateCount"] = rule.update_count
            return json.dumps(body)

        def update_crawler(response) -> EmptyResult:
            crawler = response.glue_backend.get_crawler(response.parameters.get("Name"))
            if crawler.status != "READY":
                raise CrawlerRunningException(f"Crawler with name {crawler.name} is running")
            for key, attr in (("Targets", "targets"), ("TablePrefix", "table_prefix"),
                              ("Configuration", "configuration"),
                              ("DatabaseName", "database_name")):
                if key in response.parameters:
                    setattr(crawler, attr, response.parameters[key])
            crawler.version += 1
            crawler.last_updated = utcnow()
            return EmptyResult()

        def as_dict(crawler) -> dict:
            data = crawler_dict(crawler)
            if crawler.crawls and crawler.crawls[-1].crawl_id in ext.crawl_errors:
                data["LastCrawl"]["ErrorMessage"] = ext.crawl_errors[crawler.crawls[-1].crawl_id]
            return data

        mp.setattr(AthenaBackend, "_store_predefined_query_results", store_predefined)
        mp.setattr(AthenaResponse, "get_query_execution", get_query_execution)
        mp.setattr(AthenaResponse, "get_query_results", get_query_results)
        mp.setattr(GlueResponse, "update_crawler", update_crawler, raising=False)
        mp.setattr(FakeCrawler, "as_dict", as_dict)


class MotoAws:
    def __init__(self, endpoint: str, extensions: _Extensions):
        self.endpoint = endpoint
        self.ext = extensions
        args = {"region_name": REGION, "endpoint_url": endpoint}
        self.s3 = boto3.client("s3", **args)
        self.glue = boto3.client("glue", **args)
        self.athena = boto3.client("athena", **args)

    # ------------------------------------------------------------------ moto controls

    def _post(self, path: str, body: dict) -> None:
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as answer:
            assert answer.status in (200, 201), answer.status

    def reset(self) -> None:
        self._post("/moto-api/reset", {})
        for model in ("glue::crawl", "athena::execution"):
            self._post("/moto-api/state-manager/unset-transition", {"model_name": model})
        self.ext.rules.clear()
        self.ext.outcomes.clear()
        self.ext.crawl_errors.clear()

    def set_transition(self, model: str, transition: dict) -> None:
        """moto's documented state manager, e.g. a crawl that never finishes."""
        self._post("/moto-api/state-manager/set-transition",
                   {"model_name": model, "transition": transition})

    def queue_results(self, *results: tuple[list[tuple[str, str]], list[tuple]]) -> None:
        """moto's FIFO of canned Athena results: one (columns, rows) per next statement."""
        built = [QueryRule(re.compile(""), list(c), list(r)).results() for c, r in results]
        self._post("/moto-api/static/athena/query-results", {
            "account_id": ACCOUNT, "region": REGION,
            "results": [{"rows": b.rows, "column_info": b.column_info} for b in built],
        })

    def on_query(self, pattern: str, first: bool = False, **outcome) -> QueryRule:
        """A rule for statements matching `pattern`; the first matching rule applies."""
        rule = QueryRule(re.compile(pattern, re.S), **outcome)
        self.ext.rules.insert(0 if first else len(self.ext.rules), rule)
        return rule

    def statements(self) -> list[str]:
        """Every Athena statement this server received, in order."""
        return [e.query for e in athena_backends[ACCOUNT][REGION].executions.values()]

    def executions(self) -> dict[str, str]:
        """Query execution id -> statement, for every statement received."""
        return {i: e.query for i, e in athena_backends[ACCOUNT][REGION].executions.items()}

    def fail_crawl(self, crawler: str, message: str) -> None:
        crawl = glue_backends[ACCOUNT][REGION].crawlers[crawler].crawls[-1]
        self.ext.crawl_errors[crawl.crawl_id] = message
        crawl.status = "FAILED"

    # ------------------------------------------------------------------ the deployed world

    def deploy(self, crawler_targets: str = "s3") -> None:
        for bucket in (LANDING, WAREHOUSE, RESULTS):
            self.s3.create_bucket(Bucket=bucket,
                                  CreateBucketConfiguration={"LocationConstraint": REGION})
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        for table_input in catalog.table_inputs(f"s3://{LANDING}", f"s3://{WAREHOUSE}").values():
            self.glue.create_table(DatabaseName=DATABASE, TableInput=table_input)
        if crawler_targets == "s3":  # what infra/analytics.py deploys
            self.glue.create_crawler(
                Name=CRAWLER, Role=f"arn:aws:iam::{ACCOUNT}:role/crawler",
                DatabaseName=DATABASE, Targets={"S3Targets": [crawler_infra.s3_target(LANDING)]},
                TablePrefix=crawler_infra.TABLE_PREFIX,
                SchemaChangePolicy=crawler_infra.SCHEMA_CHANGE_POLICY,
                RecrawlPolicy=crawler_infra.RECRAWL_POLICY,
                Configuration=crawler_infra.configuration())
        else:  # the catalog-target crawler of earlier deployments
            self.glue.create_crawler(
                Name=CRAWLER, Role=f"arn:aws:iam::{ACCOUNT}:role/crawler", DatabaseName=DATABASE,
                Targets={"CatalogTargets": [{"DatabaseName": DATABASE, "Tables": ["landing_events"]}]})
        self.athena.create_work_group(Name=WORKGROUP, Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/results/"},
            "EnforceWorkGroupConfiguration": True})

    def create_table(self, name, columns, location, serde, input_format, output_format,
                     compressed=False, serde_parameters=None) -> None:
        self.glue.create_table(DatabaseName=DATABASE, TableInput={
            "Name": name, "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": PARTITION_COLUMN, "Type": "string"}],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
                "Location": location, "InputFormat": input_format,
                "OutputFormat": output_format, "Compressed": compressed,
                "SerdeInfo": {"SerializationLibrary": serde,
                              "Parameters": serde_parameters or {}},
            },
        })

    def settings(self, home: Path, **overrides) -> Settings:
        values = dict(home=home, backend="athena", aws_region=REGION,
                      athena_workgroup=WORKGROUP, athena_database=DATABASE,
                      athena_output=f"s3://{RESULTS}/results/",
                      landing_uri=f"s3://{LANDING}/", warehouse_uri=f"s3://{WAREHOUSE}/",
                      glue_crawler=CRAWLER, aws_endpoint_url=self.endpoint)
        return Settings(**{**values, **overrides})

    def env(self, home: Path) -> dict[str, str]:
        """The environment a Dagster deployment gets from the stack outputs."""
        return {"EDGESTATS_HOME": str(home), "EDGESTATS_BACKEND": "athena",
                "EDGESTATS_AWS_REGION": REGION, "EDGESTATS_ATHENA_WORKGROUP": WORKGROUP,
                "EDGESTATS_GLUE_DATABASE": DATABASE,
                "EDGESTATS_ATHENA_OUTPUT": f"s3://{RESULTS}/results/",
                "EDGESTATS_LANDING_URI": f"s3://{LANDING}/",
                "EDGESTATS_WAREHOUSE_URI": f"s3://{WAREHOUSE}/",
                "EDGESTATS_GLUE_CRAWLER": CRAWLER, "EDGESTATS_AWS_ENDPOINT_URL": self.endpoint}

    # ------------------------------------------------------------------ objects

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def put_events(self, day: str, name: str, events: list[dict]) -> bytes:
        body = gzip.compress(b"".join(json.dumps(e).encode() + b"\n" for e in events))
        self.put(LANDING, f"events/dt={day}/{name}", body)
        return body

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def inserts(self, rows_by_day: dict[str, int], size: int = 64) -> Callable[[str], None]:
        """An `on_query` effect that does what Athena's INSERT INTO does to S3 and Glue:
        a Parquet file of `size` bytes under `<table location>dt=D/` and a partition, for
        each day of `rows_by_day`, in whatever table the statement names (idempotent: moto
        may store a statement's results more than once)."""
        def effect(sql: str) -> None:
            table = sql.split()[2]
            found = self.glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]
            sd = found["StorageDescriptor"]
            bucket, _, prefix = sd["Location"].removeprefix("s3://").partition("/")
            for day in rows_by_day:
                self.put(bucket, f"{prefix}dt={day}/{table}-0.parquet", b"P" * size)
                self.glue.batch_create_partition(  # an existing partition is left as it is
                    DatabaseName=DATABASE, TableName=table, PartitionInputList=[{
                        "Values": [day], "StorageDescriptor": {
                            **sd, "Location": f"{sd['Location']}dt={day}"}}])
        return effect

    def partition_location(self, table: str, day: str) -> str:
        part = self.glue.get_partition(DatabaseName=DATABASE, TableName=table,
                                       PartitionValues=[day])["Partition"]
        return part["StorageDescriptor"]["Location"]


def event(**overrides) -> dict:
    """A canonical event with every column (values do not matter to these tests)."""
    doc = dict.fromkeys(COLUMNS)
    doc.update(schema_version=1, event_id="e1", event_time="2024-03-01T10:00:00.000Z",
               event_type="pageview", site="example.com", path="/", device_type="desktop",
               is_bot=False, visitor_id="0123456789abcdef", ingest="simulator")
    doc.update(overrides)
    return doc


class CrawlerWorker:
    """Plays Glue's crawler against moto: on each RUNNING crawl it adds a partition per S3
    target through the real API, then lets moto finish it.  `before_finish(crawl_no)` may
    act instead of finishing (fail or stop the crawl); returning False leaves it running.
    """

    def __init__(self, aws: MotoAws, crawler: str = CRAWLER,
                 before_finish: Callable[[int], bool] | None = None,
                 adds_partitions: bool = True):
        self.aws, self.crawler = aws, crawler
        self.before_finish = before_finish
        self.adds_partitions = adds_partitions
        self.served: list[list[str]] = []  # S3 target paths of each crawl served
        self.tables: list[str | None] = []  # the table each crawl wrote (None: it failed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        glue, seen = self.aws.glue, set()
        while not self._stop.is_set():
            crawler = glue.get_crawler(Name=self.crawler)["Crawler"]
            last = crawler.get("LastCrawl") or {}
            crawl_id = last.get("MessagePrefix")
            if crawler["State"] == "RUNNING" and crawl_id not in seen:
                seen.add(crawl_id)
                paths = self._paths(crawler["Targets"])
                self.served.append(paths)
                table, problem = self._table_of(crawler, paths)
                if problem:
                    self.aws.fail_crawl(self.crawler, problem)
                    self.tables.append(None)
                    continue
                self.tables.append(table)
                if self.adds_partitions:
                    self._add_partitions(table, paths)
                finish = self.before_finish(len(self.served)) if self.before_finish else True
                if finish:
                    glue.list_crawls(CrawlerName=self.crawler)  # advances moto's crawl
            elif crawler["State"] == "STOPPING":
                glue.list_crawls(CrawlerName=self.crawler)
            self._stop.wait(0.02)

    def _paths(self, targets: dict) -> list[str]:
        """S3 targets as given; a catalog target crawls every folder under the table."""
        if targets.get("S3Targets"):
            return [t["Path"] for t in targets["S3Targets"]]
        pages = self.aws.s3.get_paginator("list_objects_v2").paginate(
            Bucket=LANDING, Prefix="events/", Delimiter="/")
        return [f"s3://{LANDING}/{p['Prefix']}" for page in pages
                for p in page.get("CommonPrefixes", [])]

    def _table_of(self, crawler: dict, paths: list[str]) -> tuple[str | None, str | None]:
        """The table Glue's naming rules give these paths: the folder at the configured
        TableLevelConfiguration (the bucket is level 1; without it, the include path's own
        folder), prefixed with TablePrefix.  More than TableThreshold tables fail the crawl,
        as do tables that do not exist yet (the crawler role may not create tables)."""
        if crawler["Targets"].get("CatalogTargets"):
            return crawler["Targets"]["CatalogTargets"][0]["Tables"][0], None
        config = json.loads(crawler.get("Configuration") or "{}")
        level = config.get("Grouping", {}).get("TableLevelConfiguration")
        names = set()
        for path in paths:
            folders = [p for p in path.split("://", 1)[1].split("/") if p][1:]
            root = folders[level - 2] if level else folders[-1]
            names.add(f"{crawler.get('TablePrefix') or ''}{root}")
        threshold = config.get("CrawlerOutput", {}).get("Tables", {}).get("TableThreshold")
        if threshold is not None and len(names) > threshold:
            return None, f"Table Threshold value = {threshold}, Tables detected - {len(names)}"
        (name,) = names
        tables = {t["Name"] for t in self.aws.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
        if name not in tables:
            return None, f"AccessDeniedException: glue:CreateTable on table/{DATABASE}/{name}"
        return name, None

    def _add_partitions(self, name: str, paths: list[str]) -> None:
        table = self.aws.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        inputs = []
        for path in paths:
            m = re.search(r"/dt=(\d{4}-\d{2}-\d{2})/$", path)
            if m and self.aws.keys(LANDING, path.split(f"s3://{LANDING}/", 1)[1]):
                inputs.append({"Values": [m.group(1)], "StorageDescriptor": {
                    **table["StorageDescriptor"], "Location": path}})
        if inputs:
            self.aws.glue.batch_create_partition(DatabaseName=DATABASE, TableName=name,
                                                 PartitionInputList=inputs)

    def __enter__(self) -> CrawlerWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def moto_server() -> Iterator[MotoAws]:
    """One server per test module; credentials are fake and local to the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)  # one line a request
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_ATHENA_S3_STAGING_DIR", "AWS_ATHENA_WORK_GROUP"):
            mp.delenv(key, raising=False)
        ext = _Extensions()
        ext.install(mp)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield MotoAws(f"http://{host}:{port}", ext)
        finally:
            server.stop()
