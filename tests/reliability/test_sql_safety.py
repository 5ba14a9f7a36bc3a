"""A day or a name that is not one is refused with a clear error before any SQL is built.

Through every way in: the statements and engine API (both backends), the command line
(`materialize`, `report`, exit 2) and Dagster partition keys.  Where an engine is
involved, its connection records every statement, so "before any SQL" is checked, not
assumed.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from edge.config import Settings
from orchestration import statements
from orchestration.backends.local import LocalEngine
from orchestration.cli import main
from orchestration.engine import DayRange, parse_day
from orchestration.tables import SUMMARY_TABLES

pytestmark = pytest.mark.timeout(300)

INJECTION = "2026-01-01'; DROP TABLE x; --"
NOT_DATES = [INJECTION, "2026-1-1", "2026-02-30", "20260101", "2026-01-01 ", " 2026-01-01",
             "2026-01-01T00:00", "", "yesterday", "2026-01-01\n", "２０２６-01-01"]
NOT_NAMES = ["site_daily; DROP TABLE x; --", "site_daily'", 'site_daily"', "Site_Daily",
             "site daily", "events--", "", "x" * 64, "raw_events.dt"]


class RecordingConnection:
    """A DuckDB connection that remembers every statement handed to it."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql, *args, **kw):
        self.statements.append(sql)
        return self._con.execute(sql, *args, **kw)

    def sql(self, sql, *args, **kw):
        self.statements.append(sql)
        return self._con.sql(sql, *args, **kw)

    def close(self):
        self._con.close()


@pytest.fixture
def engine(settings):
    eng = LocalEngine(settings)
    eng.con.execute("CREATE TABLE x AS SELECT 1 AS canary")
    eng.con = RecordingConnection(eng.con)
    yield eng
    assert eng.con._con.execute("SELECT canary FROM x").fetchall() == [(1,)]
    eng.close()


@pytest.mark.parametrize("text", NOT_DATES)
def test_a_day_that_is_not_a_strict_date_is_refused(text):
    with pytest.raises(ValueError, match="is not a date in YYYY-MM-DD form"):
        parse_day(text)
    with pytest.raises(ValueError, match="is not a date in YYYY-MM-DD form"):
        DayRange.of(text)
    with pytest.raises(ValueError, match="is not a date in YYYY-MM-DD form"):
        DayRange.of("2026-01-01", text)


def test_day_ranges_take_dates_only_so_render_never_sees_text():
    with pytest.raises(TypeError, match="DayRange takes datetime.date values"):
        DayRange(INJECTION, INJECTION)
    with pytest.raises(TypeError, match="render takes a DayRange"):
        statements.render("events", INJECTION)
    with pytest.raises(TypeError, match="render takes a DayRange"):
        statements.render("events", (INJECTION, INJECTION))


@pytest.mark.parametrize("name", NOT_NAMES)
def test_a_name_that_is_not_a_plain_identifier_is_refused(name):
    with pytest.raises(ValueError, match="is not a plain SQL identifier"):
        statements.identifier(name)
    with pytest.raises(ValueError, match="no SQL statement named"):
        statements.render(name, DayRange.of("2026-01-01"))
    with pytest.raises(ValueError, match="is not a summary table"):
        statements.preview(name, DayRange.of("2026-01-01"))


@pytest.mark.parametrize("name", ["site_daily; DROP TABLE x; --", "x", "raw_events", "../x"])
def test_the_local_engine_refuses_unknown_tables_before_running_anything(engine, name):
    day = DayRange.of("2026-01-01")
    before = len(engine.con.statements)
    with pytest.raises(ValueError, match="unknown warehouse table"):
        engine.replace_partitions(name, day, statements.render("site_daily", day))
    with pytest.raises(ValueError, match="unknown warehouse table"):
        engine.stored_bytes(name, day)
    assert engine.con.statements[before:] == []
    assert not (engine.warehouse / name).exists()


def test_every_rendered_statement_holds_only_days_derived_from_the_range():
    days = DayRange(dt.date(2026, 1, 1), dt.date(2026, 1, 3))
    for name in statements.STATEMENTS:
        sql = statements.render(name, days)
        dates = set(re.findall(r"'([^']*[0-9]{4}-[0-9]{2}[^']*)'", sql))
        assert dates, name
        for text in dates:  # the range, the landing folder after it, trailing windows
            day = parse_day(text)
            assert days.start - dt.timedelta(days=31) <= day <= days.end + dt.timedelta(days=1)


def test_the_athena_engine_refuses_unknown_tables_before_calling_aws(tmp_path, monkeypatch):
    from orchestration.backends.athena import AthenaEngine

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # nothing listens on port 9: any AWS call would fail with a connection error instead
    settings = Settings(home=tmp_path, backend="athena", aws_region="us-east-1",
                        athena_workgroup="wg", athena_output="s3://b/athena/",
                        landing_uri="s3://b/landing/", warehouse_uri="s3://b/warehouse/",
                        aws_endpoint_url="http://127.0.0.1:9")
    eng = AthenaEngine(settings)
    day = DayRange.of("2026-01-01")
    with pytest.raises(ValueError, match="unknown warehouse table"):
        eng.replace_partitions("site_daily; DROP TABLE x; --", day, "SELECT 1")
    with pytest.raises(ValueError, match="unknown warehouse table"):
        eng.stored_bytes("site_daily; DROP TABLE x; --", day)
    eng.close()


@pytest.mark.parametrize("command", ["materialize", "report"])
@pytest.mark.parametrize("flag", ["--start", "--end"])
def test_the_command_line_refuses_a_bad_day_with_one_line_and_exit_2(
        edgestats_home, capsys, command, flag):
    argv = {"--start": "2024-03-01", "--end": "2024-03-02"}
    argv[flag] = INJECTION
    with pytest.raises(SystemExit) as exc:
        main([command, "--start", argv["--start"], "--end", argv["--end"]])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"argument {flag}: {INJECTION!r} is not a date; use YYYY-MM-DD" in err
    assert list(edgestats_home.iterdir()) == []  # nothing was opened, let alone queried


def test_a_report_site_filter_is_a_bound_value_not_sql(edgestats_home, capsys):
    """`--site` is data, never SQL text: a hostile one finds no site and breaks nothing."""
    out = edgestats_home / "r.html"
    code = main(["report", "--start", "2024-03-01", "--end", "2024-03-01",
                 "--site", "x' OR '1'='1'; DROP TABLE site_daily; --", "--out", str(out)])
    assert code == 0
    assert out.exists()
    assert "DROP TABLE" not in capsys.readouterr().err


BAD_KEYS = [INJECTION, "2026-01-01 OR 1=1", "1970-01-01"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_dagster_refuses_a_partition_key_that_is_not_one_of_its_days(settings, key):
    from orchestration.definitions import defs
    from orchestration.defs.resources import EngineResource

    job = defs.resolve_job_def("edgestats_daily")
    with pytest.raises(dg.DagsterUnknownPartitionError):
        job.execute_in_process(partition_key=key,
                               resources={"engine": EngineResource.from_settings(settings)})
    assert not (settings.home / "warehouse").exists()


def _partitioned_assets():
    """The asset definitions as their modules define them (without bound resources)."""
    from orchestration.defs.landing.assets import raw_events
    from orchestration.defs.warehouse.assets import events, summary_assets

    return [raw_events, events, *summary_assets]


@pytest.mark.parametrize("asset", _partitioned_assets(), ids=lambda a: a.key.to_user_string())
def test_every_asset_refuses_a_bad_partition_key_before_opening_the_engine(settings, asset):
    """Called directly (as a test or another tool could), past Dagster's own check."""
    from orchestration.defs.resources import EngineResource

    context = dg.build_asset_context(partition_key=INJECTION,
                                     resources={"engine": EngineResource.from_settings(settings)})
    with pytest.raises(ValueError, match="is not a date in YYYY-MM-DD form"):
        asset(context)
    assert not (settings.home / "tmp").exists()  # LocalEngine() was never constructed


def test_checks_take_their_days_from_the_same_validation():
    from dagster import PartitionKeyRange

    from orchestration.defs.common import run_days

    context = SimpleNamespace(partition_key_range=PartitionKeyRange(INJECTION, INJECTION))
    with pytest.raises(ValueError, match="is not a date in YYYY-MM-DD form"):
        run_days(context)
    good = SimpleNamespace(partition_key_range=PartitionKeyRange("2026-01-01", "2026-01-02"))
    assert run_days(good) == DayRange(dt.date(2026, 1, 1), dt.date(2026, 1, 2))


def test_summary_tables_are_the_only_names_previews_accept():
    for table in SUMMARY_TABLES:
        assert statements.preview(table, DayRange.of("2026-01-01")).startswith("SELECT ")
