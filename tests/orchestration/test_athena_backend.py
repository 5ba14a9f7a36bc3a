"""The Athena backend against a moto server on 127.0.0.1: real boto3 and pyathena calls.

See `moto_aws.py` for what moto models, and what the fixture adds where it does not.
"""

from __future__ import annotations

import io
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import orchestration.backends.athena as athena_backend
import orchestration.backends.catalog as catalog_backend
from edge.config import ConfigError, Settings
from edge.schema import COLUMNS
from infra import crawler as crawler_infra
from orchestration.backends import make_engine
from orchestration.backends.athena import (
    AthenaBackendError,
    AthenaEngine,
    AthenaQueryFailed,
    CrawlerError,
    CrawlerTimeout,
    scan_cost_usd,
)
from orchestration.engine import DayRange
from orchestration.statements import QUALITY_STATEMENTS, render, view
from orchestration.tables import SUMMARY_TABLES
from tests.orchestration.moto_aws import (
    CRAWLER,
    DATABASE,
    LANDING,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    REGION,
    WAREHOUSE,
    WORKGROUP,
    CrawlerWorker,
    event,
    moto_server,
)

MB = 2**20
TEN_MB_COST = 10 * MB / 2**40 * 5  # the 10 MB minimum at $5/TB: 5 * 10 / 2**20 dollars
D1, D2, D3 = "2024-03-01", "2024-03-02", "2024-03-03"
VIEW_SQL = f"CREATE OR REPLACE VIEW raw_events AS\n{view('raw_events').strip()}"
SITE_DAILY_COLUMNS = ("site, pageviews, visitors, sessions, bounces, bounce_rate, "
                      "avg_visit_duration_s, views_per_session, dt")


@pytest.fixture(scope="module")
def server():
    with moto_server() as aws:
        yield aws


@pytest.fixture
def aws(server):
    server.reset()
    server.deploy()
    return server


def make(aws, tmp_path, **overrides) -> AthenaEngine:
    return AthenaEngine(aws.settings(tmp_path, **overrides), poll_seconds=0.02,
                        athena_poll_seconds=0.01)


@pytest.fixture
def engine(aws, tmp_path):
    with make(aws, tmp_path) as e:
        yield e


@pytest.fixture
def crawler_engine(aws, tmp_path):
    with make(aws, tmp_path, crawler_mode="crawler") as e:
        yield e


def land_two_days(aws) -> dict[str, int]:
    """Objects in folders D1 and D2 (D3 stays empty); returns each folder's bytes."""
    a = aws.put_events(D1, "edgestats-1-2024-03-01-10-00-00-a.gz", [event(), event(event_id="e2")])
    b = aws.put_events(D2, "edgestats-1-2024-03-02-00-01-00-b.gz", [event(event_id="e3")])
    return {D1: len(a), D2: len(b)}


def crawler(aws) -> dict:
    return aws.glue.get_crawler(Name=CRAWLER)["Crawler"]


# ---------------------------------------------------------------------- partition API


def test_partition_api_registers_each_folder_with_objects(aws, engine):
    good = aws.put_events(D1, "s-1-a.gz", [event(), event(event_id="e2")])
    aws.put(LANDING, f"events/dt={D1}/s-1-b.gz", b"plain text, not gzip")
    partial = aws.put_events(D2, "s-1-c.gz", [{"event_id": "x"}])
    aws.put(LANDING, f"events/dt={D2}/_temporary", b"skipped by Athena")
    aws.put(LANDING, f"events/dt={D1}-old/s-1-d.gz", b"another folder")

    reg = engine.register_raw_partitions(DayRange.of(D1, D3))

    missing = [c for c in COLUMNS if c != "event_id"]
    assert [(f.day, f.files, f.bytes, f.problems) for f in reg.folders] == [
        (D1, 2, len(good) + 20, ["s-1-b.gz: not readable as gzip"]),
        (D2, 1, len(partial), [f"s-1-c.gz: missing columns {missing}"]),
        (D3, 0, 0, []),
    ]
    table = aws.glue.get_table(DatabaseName=DATABASE, Name="landing_events")["Table"]
    parts = aws.glue.get_partitions(DatabaseName=DATABASE, TableName="landing_events")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == [D1, D2]
    for p in parts:
        sd = p["StorageDescriptor"]
        assert sd["Location"] == f"s3://{LANDING}/events/dt={p['Values'][0]}/"
        assert sd["SerdeInfo"] == table["StorageDescriptor"]["SerdeInfo"]
        assert sd["Columns"] == table["StorageDescriptor"]["Columns"]
    # registering again is a no-op (AlreadyExists is ignored); no crawler; the only Athena
    # statement is the raw_events view, (re)created once per engine
    again = engine.register_raw_partitions(DayRange.of(D1, D3))
    assert [(f.day, f.files) for f in again.folders] == [(D1, 2), (D2, 1), (D3, 0)]
    assert "LastCrawl" not in crawler(aws)
    assert aws.statements() == [VIEW_SQL]


def test_sniffing_reads_a_long_first_line_in_steps(aws, engine):
    long_event = event(path="/" + "a" * 9000)  # first line > two ranged reads
    aws.put_events(D1, "s-1-a.gz", [long_event])
    aws.put(LANDING, f"events/dt={D1}/s-1-b.gz", b"")
    reg = engine.register_raw_partitions(DayRange.of(D1))
    assert reg.folders[0].problems == ["s-1-b.gz: empty"]


def test_object_gone_between_listing_and_reading_is_a_problem(aws, engine, monkeypatch):
    aws.put_events(D1, "s-1-a.gz", [event()])
    aws.put_events(D1, "s-1-b.gz", [event()])
    listing = engine._objects

    def listing_then_delete(bucket, prefix):  # a lifecycle rule removes b meanwhile
        found = list(listing(bucket, prefix))
        aws.s3.delete_object(Bucket=LANDING, Key=f"events/dt={D1}/s-1-b.gz")
        return found

    monkeypatch.setattr(engine, "_objects", listing_then_delete)
    reg = engine.register_raw_partitions(DayRange.of(D1))
    assert (reg.folders[0].files, reg.folders[0].problems) == (
        2, ["s-1-b.gz: not readable (NoSuchKey)"])


def test_missing_raw_table_is_a_clear_error(aws, engine):
    aws.glue.delete_table(DatabaseName=DATABASE, Name="landing_events")
    aws.put_events(D1, "s-1-a.gz", [event()])
    with pytest.raises(AthenaBackendError, match=r"^Glue table edgestats\.landing_events does "
                       r"not exist: deploy the analytics stack \(docs/deploy\.md\), or `make "
                       r"trino-up` for the local Trino stack, or check EDGESTATS_GLUE_DATABASE$"):
        engine.register_raw_partitions(DayRange.of(D1))


# ---------------------------------------------------------------------- crawler


def test_crawler_run_points_its_s3_targets_at_the_days(aws, crawler_engine):
    land_two_days(aws)
    with CrawlerWorker(aws) as worker:
        reg = crawler_engine.register_raw_partitions(DayRange.of(D1, D3))
        first = crawler(aws)
        again = crawler_engine.register_raw_partitions(DayRange.of(D1, D3))

    day_paths = [f"s3://{LANDING}/events/dt={D1}/", f"s3://{LANDING}/events/dt={D2}/"]
    assert [(f.day, f.files) for f in reg.folders] == [(D1, 1), (D2, 1), (D3, 0)]
    assert [(f.day, f.files) for f in again.folders] == [(D1, 1), (D2, 1), (D3, 0)]
    # one crawl, over exactly the folders with objects (D3 is empty); the second call finds
    # both partitions registered and starts none (a crawl costs at least 10 minutes)
    assert worker.served == [day_paths]
    # the crawler's other S3 target settings are kept; it was updated once, not twice
    assert first["Targets"]["S3Targets"] == [{"Path": p, "Exclusions": ["**/_*", "**/.*"]}
                                             for p in day_paths]
    assert first["Version"] == 2 and crawler(aws)["Version"] == 2
    # only the targets changed: the table prefix and table level still name landing_events
    assert (first["TablePrefix"], first["Configuration"]) == (
        crawler_infra.TABLE_PREFIX, crawler_infra.configuration())
    assert worker.tables == ["landing_events"]
    assert crawler(aws)["State"] == "READY"
    assert crawler(aws)["LastCrawl"]["Status"] == "COMPLETED"  # moto's word for SUCCEEDED
    assert [aws.partition_location("landing_events", d) for d in (D1, D2)] == day_paths


def test_catalog_target_crawler_is_started_as_it_is(aws, tmp_path):
    aws.reset()
    aws.deploy(crawler_targets="catalog")
    land_two_days(aws)
    aws.put_events("2024-02-28", "old.gz", [event()])
    with make(aws, tmp_path, crawler_mode="crawler") as eng, CrawlerWorker(aws) as worker:
        eng.register_raw_partitions(DayRange.of(D1, D2))
    assert crawler(aws)["Version"] == 1  # no UpdateCrawler: catalog targets cannot be narrowed
    assert crawler(aws)["Targets"]["CatalogTargets"] == [
        {"DatabaseName": DATABASE, "Tables": ["landing_events"]}]
    # such a crawler crawls the table's whole location, old folders included
    assert worker.served == [[f"s3://{LANDING}/events/dt={d}/" for d in ("2024-02-28", D1, D2)]]


@pytest.mark.parametrize(("change", "said"), [
    ({"Configuration": "{}"}, "TableLevelConfiguration None"),
    ({"TablePrefix": ""}, "table prefix ''"),
])
def test_crawler_that_would_not_write_landing_events_is_refused_before_it_runs(
        aws, crawler_engine, change, said):
    land_two_days(aws)
    aws.glue.update_crawler(Name=CRAWLER, **change)
    with CrawlerWorker(aws) as worker, pytest.raises(CrawlerError) as err:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert str(err.value).startswith(
        "Glue crawler 'edgestats-raw-events' would not write edgestats.landing_events when "
        "pointed "
        "at day folders (")
    assert said in str(err.value)
    assert str(err.value).endswith("expected 'edgestats', a prefix making 'landing_events' "
                                   "from 'events', and level 2); redeploy the analytics stack")
    assert worker.served == [] and "LastCrawl" not in crawler(aws)


def test_the_fixture_crawler_follows_glue_naming(aws):
    """What the refusal above prevents: without a table level a narrowed target names its
    own folder; the crawl fails because the crawler may not create that table."""
    land_two_days(aws)
    aws.glue.update_crawler(Name=CRAWLER, Configuration="{}", Targets={"S3Targets": [
        {"Path": f"s3://{LANDING}/events/dt={D1}/"}]})
    with CrawlerWorker(aws) as worker:
        aws.glue.start_crawler(Name=CRAWLER)
        deadline = time.monotonic() + 5
        while crawler(aws)["State"] != "READY" or not worker.served:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert worker.tables == [None]
    assert crawler(aws)["LastCrawl"]["Status"] == "FAILED"
    assert crawler(aws)["LastCrawl"]["ErrorMessage"] == (
        "AccessDeniedException: glue:CreateTable on table/edgestats/landing_dt=2024-03-01")


def test_crawler_failure_reports_glue_error_message(aws, crawler_engine):
    land_two_days(aws)

    def fail(crawl_no: int) -> bool:
        aws.fail_crawl(CRAWLER, "Internal Service Exception")
        return False

    with CrawlerWorker(aws, before_finish=fail), pytest.raises(CrawlerError) as err:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert str(err.value) == (
        "Glue crawler 'edgestats-raw-events' failed: Internal Service Exception "
        "(log group /aws-glue/crawlers, stream edgestats-raw-events)")


def test_cancelled_crawl_is_an_error(aws, crawler_engine):
    land_two_days(aws)

    def stop(crawl_no: int) -> bool:
        aws.glue.stop_crawler(Name=CRAWLER)  # real API; moto reports the crawl STOPPED
        return False

    with CrawlerWorker(aws, before_finish=stop), pytest.raises(CrawlerError) as err:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert str(err.value) == (
        "Glue crawler 'edgestats-raw-events' was cancelled before it finished; rerun the "
        "partition (log group /aws-glue/crawlers, stream edgestats-raw-events)")


def test_crawl_that_adds_no_partition_is_an_error(aws, crawler_engine):
    land_two_days(aws)
    with CrawlerWorker(aws, adds_partitions=False), pytest.raises(CrawlerError) as err:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert str(err.value) == (
        "crawler 'edgestats-raw-events' finished but Glue has no landing_events partition for "
        "dt=2024-03-01, 2024-03-02 although the landing folder holds objects; check the "
        "crawler's targets and its log in CloudWatch (/aws-glue/crawlers)")


def test_crawler_that_never_finishes_times_out(aws, tmp_path):
    land_two_days(aws)
    aws.set_transition("glue::crawl", {"progression": "manual", "times": 10**9})
    with make(aws, tmp_path, crawler_mode="crawler", crawler_timeout_seconds=0.5) as eng:
        started = time.monotonic()
        with pytest.raises(CrawlerTimeout) as err:
            eng.register_raw_partitions(DayRange.of(D1, D2))
        waited = time.monotonic() - started
    assert str(err.value) == (
        "Glue crawler 'edgestats-raw-events' did not finish within 0.5 s (state RUNNING); it "
        "may still be running: check it in the Glue console, or raise "
        "EDGESTATS_CRAWLER_TIMEOUT_SECONDS")
    assert 0.5 <= waited < 3
    assert crawler(aws)["State"] == "RUNNING"


def test_crawl_already_running_is_waited_for_then_ours_runs(aws, crawler_engine):
    land_two_days(aws)
    aws.glue.start_crawler(Name=CRAWLER)  # e.g. someone started it from the console

    def slow_first(crawl_no: int) -> bool:
        if crawl_no == 1:
            time.sleep(0.3)
        return True

    with CrawlerWorker(aws, before_finish=slow_first) as worker:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert worker.served == [
        [f"s3://{LANDING}/events/"],
        [f"s3://{LANDING}/events/dt={D1}/", f"s3://{LANDING}/events/dt={D2}/"],
    ]
    earlier, ours = aws.glue.list_crawls(CrawlerName=CRAWLER)["Crawls"]
    assert (earlier["State"], ours["State"]) == ("COMPLETED", "COMPLETED")
    assert ours["StartTime"] >= earlier["EndTime"]  # retargeted and started only once READY


def test_crawl_started_by_someone_else_after_our_wait_is_retargeted(aws, crawler_engine,
                                                                    monkeypatch):
    """The crawler turns RUNNING between our READY check and our UpdateCrawler (outside
    Dagster's pool): Glue refuses the update, so we wait again and retarget then."""
    land_two_days(aws)
    wait = AthenaEngine._wait_ready
    calls = []

    def racing_wait(self, *args, **kwargs):
        crawler = wait(self, *args, **kwargs)
        calls.append(crawler["State"])
        if len(calls) == 1:
            aws.glue.start_crawler(Name=CRAWLER)  # e.g. from the console, with its targets
        return crawler

    monkeypatch.setattr(AthenaEngine, "_wait_ready", racing_wait)
    with CrawlerWorker(aws) as worker:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert worker.served == [
        [f"s3://{LANDING}/events/"],
        [f"s3://{LANDING}/events/dt={D1}/", f"s3://{LANDING}/events/dt={D2}/"],
    ]
    assert len(calls) == 3  # READY, READY again after the other crawl, ours finished
    assert crawler(aws)["Version"] == 2  # one update: the refused one changed nothing


def test_empty_folders_start_no_crawl(aws, crawler_engine):
    reg = crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert [(f.day, f.files) for f in reg.folders] == [(D1, 0), (D2, 0)]
    assert "LastCrawl" not in crawler(aws)


def test_unknown_crawler_is_a_clear_error(aws, tmp_path):
    land_two_days(aws)
    with make(aws, tmp_path, crawler_mode="crawler", glue_crawler="nope") as eng, \
            pytest.raises(CrawlerError, match=r"^Glue crawler 'nope' does not exist: check "
                          r"EDGESTATS_GLUE_CRAWLER against the stack outputs$"):
        eng.register_raw_partitions(DayRange.of(D1))


def test_crawl_covers_only_folders_not_registered_yet(aws, crawler_engine):
    land_two_days(aws)
    engine_api = AthenaEngine(aws.settings(crawler_engine.settings.home))  # partition API
    engine_api.register_raw_partitions(DayRange.of(D1))
    engine_api.close()
    with CrawlerWorker(aws) as worker:
        crawler_engine.register_raw_partitions(DayRange.of(D1, D2))
    assert worker.served == [[f"s3://{LANDING}/events/dt={D2}/"]]


# ---------------------------------------------------------------------- queries


def test_query_runs_in_the_workgroup_and_polls_to_success(aws, engine):
    # moto's documented FIFO of canned results; QUEUED -> RUNNING -> SUCCEEDED one poll each
    aws.set_transition("athena::execution", {"progression": "manual", "times": 1})
    aws.queue_results(([("site", "varchar"), ("pageviews", "bigint"), ("bounce_rate", "double")],
                       [("example.com", 42, 0.25), ("b.org", 7, None)]))
    sql = "SELECT site, pageviews, bounce_rate FROM site_daily WHERE dt = '2024-03-01'"
    result = engine.query(sql)
    assert result.columns == ["site", "pageviews", "bounce_rate"]
    assert result.rows == [("example.com", 42, 0.25), ("b.org", 7, None)]
    execution = aws.athena.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["Query"] == sql
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"]["Database"] == DATABASE
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert (result.bytes_scanned, result.engine_seconds) == (0, 0.0)
    assert result.cost_usd == TEN_MB_COST  # 10 MB minimum per query


def test_query_statistics_and_cost(aws, engine):
    aws.on_query(r"FROM page_daily", columns=[("n", "bigint")], rows=[(3,)],
                 scanned_bytes=3 * 2**40 + 1, engine_ms=1500)
    result = engine.query("SELECT count(*) AS n FROM page_daily")
    assert result.rows == [(3,)]
    assert result.bytes_scanned == 3 * 2**40 + 1
    assert result.engine_seconds == 1.5
    assert result.cost_usd == 15 + 5 / 2**20  # 3 TB + 1 byte, billed up to the next MB


def test_scan_cost_rules():
    assert scan_cost_usd(0) == TEN_MB_COST
    assert scan_cost_usd(10 * MB + 1) == 11 * MB / 2**40 * 5
    assert scan_cost_usd(2**40) == 5.0
    assert scan_cost_usd(5 * 2**40, "DDL") == 0.0


def test_failed_query_carries_athena_reason(aws, engine):
    reason = "line 1:15: Table 'awsdatacatalog.edgestats.nowhere' does not exist"
    aws.on_query(r"FROM nowhere", fail=reason)
    with pytest.raises(AthenaQueryFailed) as err:
        engine.query("SELECT * FROM nowhere")
    failed = err.value
    assert (failed.state, failed.reason) == ("FAILED", reason)
    assert str(failed) == f"Athena query {failed.query_id} for query FAILED: {reason}"
    execution = aws.athena.get_query_execution(QueryExecutionId=failed.query_id)["QueryExecution"]
    assert execution["Query"] == "SELECT * FROM nowhere"


def test_cancelled_query_is_an_error(aws, engine):
    # a query that stays QUEUED until someone stops it (moto's own CANCELLED path)
    aws.set_transition("athena::execution", {"progression": "manual", "times": 10**9})

    def cancel_when_started():
        for _ in range(500):
            ids = aws.athena.list_query_executions()["QueryExecutionIds"]
            if ids:
                aws.athena.stop_query_execution(QueryExecutionId=ids[0])
                return
            time.sleep(0.01)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(cancel_when_started)
        with pytest.raises(AthenaQueryFailed) as err:
            engine.query("SELECT 1")
    assert err.value.state == "CANCELLED"
    assert str(err.value) == f"Athena query {err.value.query_id} for query CANCELLED: no reason given"


# ---------------------------------------------------------------------- writes


def put_parallel(aws, bucket: str, keys: list[str], body: bytes = b"x") -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: aws.put(bucket, k, body), keys))


def _scratch(sql: str) -> str:
    """The scratch table a write's INSERT went into."""
    return re.match(r"INSERT INTO (\w+__w[0-9a-f]{12}) \(", sql).group(1)


def test_replace_partitions_writes_a_new_version_then_repoints_the_days(aws, engine,
                                                                       monkeypatch):
    # small pages and batches, so seven objects cross the listing and DeleteObjects limits
    monkeypatch.setattr(catalog_backend, "_S3_LIST_PAGE", 2)
    monkeypatch.setattr(catalog_backend, "_S3_DELETE_BATCH", 3)
    # day D2 was written in the layout before versions; D1 never
    many = [f"site_daily/dt={D2}/old-{i:04d}.parquet" for i in range(7)]
    put_parallel(aws, WAREHOUSE, many)
    aws.glue.create_partition(DatabaseName=DATABASE, TableName="site_daily", PartitionInput={
        "Values": [D2], "StorageDescriptor": {**aws.glue.get_table(
            DatabaseName=DATABASE, Name="site_daily")["Table"]["StorageDescriptor"],
            "Location": f"s3://{WAREHOUSE}/site_daily/dt={D2}/"}})
    keep = [f"site_daily/dt={D3}/keep.parquet", "site_daily/dt=2024-03-010/keep.parquet",
            f"page_daily/dt={D1}/keep.parquet", f"site_daily/dt={D1}.parquet"]
    put_parallel(aws, WAREHOUSE, keep)
    aws.on_query(r"^INSERT INTO site_daily__w", update_count=3, scanned_bytes=5 * MB,
                 engine_ms=2000, effect=aws.inserts({D1: 2, D2: 1}, size=250))
    aws.on_query(r"^SELECT dt, count\(\*\) AS row_count FROM site_daily__w",
                 columns=[("dt", "varchar"), ("row_count", "bigint")],
                 rows=[(D1, 2), (D2, 1)], engine_ms=100)
    days = DayRange.of(D1, D2)
    sql = render("site_daily", days)

    result = engine.replace_partitions("site_daily", days, sql)

    insert, count = aws.statements()
    scratch = _scratch(insert)
    assert insert == f"INSERT INTO {scratch} ({SITE_DAILY_COLUMNS})\n{sql.strip()}"
    assert count == f"SELECT dt, count(*) AS row_count FROM {scratch} GROUP BY dt"  # noqa: S608
    # the days now point at one new version; the scratch table is gone
    locations = [aws.partition_location("site_daily", d) for d in (D1, D2)]
    generation = re.fullmatch(rf"s3://{WAREHOUSE}/(site_daily/gen-\d{{8}}T\d{{6}}Z-[0-9a-f]{{8}}/)"
                              rf"dt={D1}/", locations[0]).group(1)
    assert locations == [f"s3://{WAREHOUSE}/{generation}dt={d}/" for d in (D1, D2)]
    assert scratch not in {t["Name"] for t in aws.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    # the replaced version of D2 stays until its next rewrite (a reader may be in it)
    new = [f"{generation}dt={d}/{scratch}-0.parquet" for d in (D1, D2)]
    assert aws.keys(WAREHOUSE) == sorted(keep + many + new)
    assert result.table == "site_daily"
    assert result.rows_by_day == {D1: 2, D2: 1}
    assert result.bytes_written == 500
    assert engine.stored_bytes("site_daily", days) == 500
    assert result.bytes_scanned == 5 * MB
    assert result.engine_seconds == 2.1
    executions = aws.athena.list_query_executions()["QueryExecutionIds"]
    assert sorted(result.query_ids) == sorted(executions) and len(result.query_ids) == 2
    assert result.cost_usd == 2 * TEN_MB_COST

    # the next rewrite of D2 deletes the version before the replaced one (the old layout)
    aws.ext.rules.clear()
    aws.on_query(r"^INSERT INTO site_daily__w", update_count=1, effect=aws.inserts({D2: 1}))
    aws.on_query(r"^SELECT dt, count\(\*\)", columns=[("dt", "varchar"), ("row_count", "bigint")],
                 rows=[(D2, 1)])
    engine.replace_partitions("site_daily", DayRange.of(D2), render("site_daily", DayRange.of(D2)))
    latest = aws.partition_location("site_daily", D2).removeprefix(f"s3://{WAREHOUSE}/")
    assert aws.keys(WAREHOUSE, f"site_daily/dt={D2}/") == []
    assert [k for k in aws.keys(WAREHOUSE) if f"dt={D2}/" in k] == sorted(
        [new[1], *aws.keys(WAREHOUSE, latest)])
    assert aws.partition_location("site_daily", D1) == locations[0]  # D1 untouched


def test_day_without_rows_becomes_empty(aws, engine):
    put_parallel(aws, WAREHOUSE, [f"bot_daily/dt={D2}/old.parquet"])
    aws.on_query(r"^INSERT INTO bot_daily__w", update_count=4, effect=aws.inserts({D1: 4}))
    aws.on_query(r"^SELECT dt, count\(\*\)", columns=[("dt", "varchar"), ("row_count", "bigint")],
                 rows=[(D1, 4)])
    days = DayRange.of(D1, D2)
    result = engine.replace_partitions("bot_daily", days, render("bot_daily", days))
    assert result.rows_by_day == {D1: 4, D2: 0}
    assert engine.stored_bytes("bot_daily", DayRange.of(D2)) == 0
    empty = aws.partition_location("bot_daily", D2).removeprefix(f"s3://{WAREHOUSE}/")
    assert aws.keys(WAREHOUSE, empty) == []
    assert aws.keys(WAREHOUSE, f"bot_daily/dt={D2}/") == []  # no partition pointed there


def test_rows_outside_the_days_are_an_error_and_replace_nothing(aws, engine):
    aws.on_query(r"^INSERT INTO bot_daily__w", update_count=5,
                 effect=aws.inserts({D1: 3, D2: 2}))
    aws.on_query(r"^SELECT dt, count\(\*\)", columns=[("dt", "varchar"), ("row_count", "bigint")],
                 rows=[(D1, 3), (D2, 2)])
    with pytest.raises(AthenaBackendError, match=r"^bot_daily: the statement wrote rows for days "
                       r"outside 2024-03-01: \['2024-03-02'\] \(query .*\); nothing was replaced$"):
        engine.replace_partitions("bot_daily", DayRange.of(D1), render("bot_daily", DayRange.of(D1)))
    assert aws.keys(WAREHOUSE, "bot_daily/") == []
    assert aws.glue.get_partitions(DatabaseName=DATABASE, TableName="bot_daily")["Partitions"] == []


def test_count_that_disagrees_with_the_insert_is_an_error(aws, engine):
    aws.on_query(r"^INSERT INTO bot_daily__w", update_count=5, effect=aws.inserts({D1: 3}))
    aws.on_query(r"^SELECT dt, count\(\*\)", columns=[("dt", "varchar"), ("row_count", "bigint")],
                 rows=[(D1, 3)])
    with pytest.raises(AthenaBackendError, match=r"^bot_daily: INSERT wrote 5 rows but the new "
                       r"days hold 3 \(query .*\); nothing was replaced$"):
        engine.replace_partitions("bot_daily", DayRange.of(D1), render("bot_daily", DayRange.of(D1)))


def test_failed_insert_surfaces_athena_reason_and_keeps_the_old_day(aws, engine):
    put_parallel(aws, WAREHOUSE, [f"page_daily/dt={D1}/old.parquet"])
    aws.glue.create_partition(DatabaseName=DATABASE, TableName="page_daily", PartitionInput={
        "Values": [D1], "StorageDescriptor": {**aws.glue.get_table(
            DatabaseName=DATABASE, Name="page_daily")["Table"]["StorageDescriptor"],
            "Location": f"s3://{WAREHOUSE}/page_daily/dt={D1}/"}})
    reason = "HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers"
    aws.on_query(r"^INSERT INTO page_daily__w", fail=reason, effect=aws.inserts({D1: 1}))
    days = DayRange.of(D1, D2)
    with pytest.raises(AthenaQueryFailed) as err:
        engine.replace_partitions("page_daily", days, render("page_daily", days))
    assert str(err.value) == (f"Athena query {err.value.query_id} for writing page_daily "
                              f"2024-03-01..2024-03-02 FAILED: {reason}")
    assert len(aws.statements()) == 1  # the INSERT; no count after a failure
    # the old day still answers: same partition, same files; the partial new version is gone
    assert aws.partition_location("page_daily", D1) == f"s3://{WAREHOUSE}/page_daily/dt={D1}/"
    assert aws.keys(WAREHOUSE) == [f"page_daily/dt={D1}/old.parquet"]
    assert [t["Name"] for t in aws.glue.get_tables(DatabaseName=DATABASE)["TableList"]
            if "__w" in t["Name"]] == []


def test_names_and_days_are_checked_before_any_call(aws, engine):
    put_parallel(aws, WAREHOUSE, [f"site_daily/dt={D1}/old.parquet"])
    with pytest.raises(ValueError, match="unknown warehouse table"):
        engine.replace_partitions("site_daily; DROP TABLE x", DayRange.of(D1), "SELECT 1")
    with pytest.raises(ValueError, match="unknown warehouse table"):
        engine.replace_partitions("raw_events", DayRange.of(D1), "SELECT 1")
    with pytest.raises(ValueError, match=r"101 days in one statement; at most 100"):
        engine.replace_partitions("site_daily", DayRange.of("2024-01-01", "2024-04-10"), "SELECT 1")
    assert aws.statements() == []
    assert aws.keys(WAREHOUSE) == [f"site_daily/dt={D1}/old.parquet"]


def test_deployed_table_that_differs_from_the_pipeline_is_named(aws, engine):
    aws.glue.delete_table(DatabaseName=DATABASE, Name="site_hourly")
    columns = [(n, "int" if n == "hour" else t) for n, t in SUMMARY_TABLES["site_hourly"]]
    aws.create_table("site_hourly", columns, f"s3://{WAREHOUSE}/site_hourly/", PARQUET_SERDE,
                     PARQUET_INPUT, PARQUET_OUTPUT)
    with pytest.raises(AthenaBackendError) as err:
        engine.replace_partitions("site_hourly", DayRange.of(D1), "SELECT 1")
    assert str(err.value) == (
        "Glue table edgestats.site_hourly does not match edge/catalog.py (1: deployed "
        "('hour', 'int'), pipeline ('hour', 'bigint')); redeploy the analytics stack")
    assert aws.statements() == []


def test_stored_bytes_are_those_of_each_partitions_location(aws, engine):
    sd = aws.glue.get_table(DatabaseName=DATABASE, Name="events")["Table"]["StorageDescriptor"]
    for day, folder in ((D1, f"events/dt={D1}/"), (D3, f"events/gen-x/dt={D3}")):
        aws.glue.create_partition(DatabaseName=DATABASE, TableName="events", PartitionInput={
            "Values": [day], "StorageDescriptor": {**sd, "Location": f"s3://{WAREHOUSE}/{folder}"}})
    aws.put(WAREHOUSE, f"events/dt={D1}/a.parquet", b"1" * 10)
    aws.put(WAREHOUSE, f"events/dt={D1}/b.parquet", b"1" * 5)
    aws.put(WAREHOUSE, f"events/dt={D1}/gen-y/dt={D1}/z.parquet", b"1" * 50)  # not read
    aws.put(WAREHOUSE, f"events/gen-x/dt={D3}/c.parquet", b"1" * 7)
    aws.put(WAREHOUSE, f"events/gen-x/dt={D3}0/d.parquet", b"1" * 100)
    aws.put(WAREHOUSE, f"events/dt={D2}/e.parquet", b"1" * 1000)  # no partition: no day
    assert engine.stored_bytes("events", DayRange.of(D1, D2)) == 15
    assert engine.stored_bytes("events", DayRange.of(D1, D3)) == 22


# ---------------------------------------------------------------------- configuration


def test_settings_the_backend_needs(aws, tmp_path):
    with pytest.raises(ConfigError, match="set EDGESTATS_AWS_REGION"):
        AthenaEngine(aws.settings(tmp_path, aws_region=None))
    with pytest.raises(ConfigError, match="needs EDGESTATS_ATHENA_WORKGROUP"):
        AthenaEngine(aws.settings(tmp_path, athena_workgroup=None, athena_output=None))
    with pytest.raises(ConfigError, match="the athena backend's database: 'my-db' is not a plain"):
        AthenaEngine(aws.settings(tmp_path, athena_database="my-db"))
    with pytest.raises(ConfigError, match="EDGESTATS_CRAWLER_MODE=crawler needs "
                       "EDGESTATS_GLUE_CRAWLER"):
        AthenaEngine(aws.settings(tmp_path, crawler_mode="crawler", glue_crawler=None))


def test_make_engine_from_the_stack_outputs_environment(aws, tmp_path):
    settings = Settings.from_env(aws.env(tmp_path) | {"EDGESTATS_CRAWLER_TIMEOUT_SECONDS": "90"})
    assert (settings.crawler_timeout_seconds, settings.aws_region) == (90.0, REGION)
    aws.queue_results(([("one", "integer")], [(1,)]))
    with make_engine(settings) as eng:
        assert isinstance(eng, AthenaEngine)
        assert eng.query("SELECT 1 AS one").rows == [(1,)]


def test_crawler_timeout_setting_must_be_a_number():
    with pytest.raises(ConfigError, match="EDGESTATS_CRAWLER_TIMEOUT_SECONDS='soon' is not a"):
        Settings.from_env({"EDGESTATS_CRAWLER_TIMEOUT_SECONDS": "soon"})


def test_threads_share_one_engine_safely(aws, engine):
    """Dagster may run assets in threads; clients and the connection are thread-safe."""
    aws.on_query(r"FROM geo_daily", columns=[("n", "bigint")], rows=[(1,)])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: engine.query("SELECT count(*) AS n FROM geo_daily").rows,
                                range(8)))
    assert results == [[(1,)]] * 8


# ---------------------------------------------------------------------- Dagster


def _kind(sql: str) -> str:
    """A statement's first words, enough to tell the pipeline's statements apart."""
    if sql.startswith("-- raw_events_profile"):
        return "profile"
    return re.sub(r"__w[0-9a-f]{12}$", "", " ".join(sql.split()[:2 if sql.startswith("SELECT") else 3]))


def test_engine_metadata_only_for_an_engine_that_reports():
    from orchestration.defs.common import engine_metadata
    from orchestration.engine import QueryResult, WriteResult

    local = WriteResult("events", {D1: 3}, bytes_written=10, bytes_scanned=None, seconds=0.1)
    assert engine_metadata([local], [QueryResult(["n"], [(1,)])]) == {}
    athena = WriteResult("events", {D1: 3}, bytes_written=10, bytes_scanned=MB,
                         query_ids=["q1", "q2"], engine_seconds=1.25, cost_usd=0.5)
    meta = engine_metadata([athena], [QueryResult(["n"], [(1,)], query_id="q3",
                                                  bytes_scanned=2, engine_seconds=0.5,
                                                  cost_usd=0.25)])
    assert {k: v.value for k, v in meta.items()} == {
        "query_ids": ["q1", "q2", "q3"], "bytes_scanned": MB + 2, "cost_usd": 0.75,
        "engine_seconds": 1.75}
    trino = WriteResult("events", {D1: 3}, bytes_written=10, bytes_scanned=7,
                        query_ids=["t1"], engine_seconds=0.5)  # self-hosted: no list price
    assert {k: v.value for k, v in engine_metadata([trino]).items()} == {
        "query_ids": ["t1"], "bytes_scanned": 7, "engine_seconds": 0.5}


def test_raw_events_asset_runs_in_the_crawler_pool_of_limit_one(tmp_path):
    """Crawls of one crawler must not overlap; the pool's limit is set as docs/deploy.md says."""
    import os
    import subprocess
    import sys

    from dagster import DagsterInstance

    from orchestration.definitions import defs

    pools = {a.key.to_user_string(): a.op.pool for a in defs.assets if hasattr(a, "op")}
    assert pools["raw_events"] == athena_backend.CRAWLER_POOL == "glue_crawler"
    assert "glue_crawler" not in {p for k, p in pools.items() if k != "raw_events"}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dagster = [sys.executable, "-m", "dagster", "instance", "concurrency", "set",
               "glue_crawler", "1"]
    subprocess.run(dagster, env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, check=True,
                   capture_output=True, timeout=120)
    instance = DagsterInstance.from_config(str(tmp_path))
    assert instance.event_log_storage.get_concurrency_info("glue_crawler").slot_count == 1


# ---------------------------------------------------------------------- end to end


@pytest.mark.slow  # two Dagster runs of the whole graph, ~15-25 s
def test_dagster_materializes_the_asset_graph_on_athena(aws, tmp_path, monkeypatch):
    """`edgestats materialize` with EDGESTATS_BACKEND=athena and the stack's environment
    pointed at moto: every asset and check of the graph for two days, in one Dagster run
    recorded in the instance, each SQL file sent to Athena as it is written.
    """
    from dagster import AssetKey

    from orchestration.commands import dagster_instance, materialize

    for key, value in aws.env(tmp_path).items():
        monkeypatch.setenv(key, value)
    land_two_days(aws)
    aws.put_events(D3, "late.gz", [event(event_id="e4", event_time="2024-03-02T23:59:59.999Z")])
    tables = ["events", *SUMMARY_TABLES]
    for t in tables:  # yesterday's run left files behind
        aws.put(WAREHOUSE, f"{t}/dt={D1}/old.parquet", b"o" * 9)

    aws.on_query(r"^-- raw_events_profile", rows=[(D1, D1, 2), (D2, D2, 1), (D3, D2, 1)],
                 columns=[("folder", "varchar"), ("day", "varchar"), ("rows", "bigint")],
                 scanned_bytes=3 * MB, engine_ms=500)
    aws.on_query(r"^SELECT site, pageviews, .* FROM site_daily WHERE dt BETWEEN ",
                 columns=[("site", "varchar")], rows=[], scanned_bytes=20 * MB + 1,
                 engine_ms=250)  # the UI preview of site_daily
    aws.on_query(r"^INSERT INTO ", update_count=4, scanned_bytes=MB, engine_ms=1000,
                 effect=aws.inserts({D1: 2, D2: 2}))
    aws.on_query(r"^SELECT dt, count\(\*\) AS row_count FROM ",
                 columns=[("dt", "varchar"), ("row_count", "bigint")], rows=[(D1, 2), (D2, 2)])
    aws.on_query(r"^-- check_events_unique", columns=[("duplicate_rows", "bigint")], rows=[(0,)])
    # issue 5's quality checks: counts from Athena, listings from S3 (an errors/ object on D2)
    aws.on_query(r"^-- check_schema_valid:", rows=[(D1, 2, 0), (D2, 1, 0)], columns=[
        ("day", "varchar"), ("lines", "bigint"), ("bad_lines", "bigint")])
    aws.put(LANDING, f"errors/processing-failed/dt={D2}/edgestats-1-{D2}-00-02-00-e", b"{}\n")

    settings = Settings.from_env()
    out = io.StringIO()
    days = DayRange.of(D1, D2)
    assert materialize(settings, days, out), out.getvalue()

    report = out.getvalue()
    assert "  ok       raw_events " in report and "3 landing objects" in report
    for t in tables:
        assert re.search(rf"^  ok       {t} .* 4 rows$", report, re.M), report
    assert f"\nCHECK raw_events/raw_events_files_match_schema {D1}..{D2} " in report
    assert f"\nCHECK events/events_one_row_per_event_id {D1}..{D2} PASSED ERROR " in report
    assert f"\nCHECK site_daily/summaries_add_up {D1}..{D2} PASSED ERROR " in report
    assert f"\nCHECK raw_events/schema_valid {D1} PASSED ERROR 0 malformed lines of 2 " in report
    assert f"\nCHECK raw_events/freshness {D2} PASSED WARN 1 landing object(s)" in report
    assert (f"\nCHECK raw_events/firehose_errors {D2} FAILED ERROR 1 object(s), 3 bytes under "
            f"errors/processing-failed/dt={D2}/ (1)") in report
    assert f"\nCHECK raw_events/firehose_errors {D1} PASSED ERROR " in report
    instance = dagster_instance(settings)
    for t in ["raw_events", *tables]:
        assert instance.get_materialized_partitions(AssetKey(t)) == {D1, D2}, t
    assert [aws.partition_location("landing_events", d) for d in (D1, D2, D3)] == [
        f"s3://{LANDING}/events/dt={d}/" for d in (D1, D2, D3)]
    statements = aws.statements()
    assert statements[0] == VIEW_SQL  # the raw_events view, once per engine
    for t in tables:  # one range run writes each table once, with its template unchanged
        inserts = [q for q in statements if re.match(rf"INSERT INTO {t}__w[0-9a-f]{{12}} \(", q)]
        assert len(inserts) == 1 and inserts[0].endswith(render(t, days).strip()), t
    assert not [q for q in statements if q.startswith(("ALTER", "DROP", "DELETE"))]
    assert render("raw_events_profile", days).strip() in statements
    for name in QUALITY_STATEMENTS:  # sent as written, like every pipeline statement
        assert render(name, days).strip() in statements, name
    # each table's days point at its new version, the only files left (yesterday's went)
    for t in tables:
        for d in (D1, D2):
            location = aws.partition_location(t, d)
            assert re.fullmatch(rf"s3://{WAREHOUSE}/{t}/gen-[0-9TZ]+-[0-9a-f]{{8}}/dt={d}/",
                                location), location
            assert len(aws.keys(WAREHOUSE, location.removeprefix(f"s3://{WAREHOUSE}/"))) == 1
    assert len(aws.keys(WAREHOUSE)) == 2 * len(tables)

    # each asset shows what Athena reported: its statements' ids, bytes, cost, engine time
    sent = aws.executions()

    def athena_metadata(key: str) -> tuple[list[str], dict]:
        mat = instance.get_latest_materialization_event(AssetKey(key)).asset_materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        return (sorted(_kind(sent[i]) for i in meta["query_ids"]),
                {k: meta[k] for k in ("bytes_scanned", "cost_usd", "engine_seconds")})

    # events: INSERT (1 MB, 1 s), row count (0 B), profile (3 MB, 0.5 s); every DML
    # statement is billed at least 10 MB
    assert athena_metadata("events") == (
        ["INSERT INTO events", "SELECT dt,", "profile"],
        {"bytes_scanned": 4 * MB, "cost_usd": round(3 * TEN_MB_COST, 9),
         "engine_seconds": 1.5})
    # site_daily: INSERT (1 MB, 1 s), row count, preview (20 MB + 1 B, billed 21 MB)
    assert athena_metadata("site_daily") == (
        ["INSERT INTO site_daily", "SELECT dt,", "SELECT site,"],
        {"bytes_scanned": 21 * MB + 1,
         "cost_usd": round(2 * TEN_MB_COST + 21 * MB / 2**40 * 5, 9), "engine_seconds": 1.25})

    # a failed statement fails its asset with Athena's reason; nothing downstream runs
    reason = "HIVE_BAD_DATA: Error parsing field value for field 3"
    aws.on_query(r"^INSERT INTO events__w", fail=reason, first=True)
    out = io.StringIO()
    assert not materialize(settings, days, out)
    failed = re.search(r"^  FAILED   events\s+(.*)$", out.getvalue(), re.M)
    assert failed, out.getvalue()
    assert re.fullmatch(rf"orchestration\.backends\.athena\.AthenaQueryFailed: Athena query "
                        rf"[0-9a-f-]{{36}} for writing events 2024-03-01\.\.2024-03-02 FAILED: "
                        rf"{reason}", failed.group(1))
    assert sum(q.startswith("INSERT INTO site_daily__w") for q in aws.statements()) == 1
