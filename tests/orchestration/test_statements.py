"""The pipeline's SQL: every statement is Athena SQL, runs on DuckDB, and only validated
values ever reach it."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from edge.config import Settings
from edge.schema import COLUMNS
from orchestration import statements
from orchestration.backends.local import LocalEngine, to_duckdb
from orchestration.engine import DayRange, parse_day
from orchestration.tables import DUCKDB_TYPES, SUMMARY_TABLES, WAREHOUSE_TABLES
from tests.orchestration import scenario

DAYS = DayRange(scenario.D, scenario.D1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A local engine over the scenario's landing zone, with events already written."""
    settings = Settings(home=tmp_path_factory.mktemp("statements"))
    scenario.land(settings.landing)
    eng = LocalEngine(settings)
    eng.register_raw_partitions(DAYS.extend(1))
    with eng.raw_scan(DAYS.extend(1)):
        eng.replace_partitions("events", DAYS, statements.render("events", DAYS))
    for table in SUMMARY_TABLES:
        eng.replace_partitions(table, DAYS, statements.render(table, DAYS))
    yield eng
    eng.close()


@pytest.mark.parametrize("name", statements.STATEMENTS)
def test_every_statement_parses_as_athena_sql(name):
    sql = statements.render(name, DAYS)
    parsed = sqlglot.parse(sql, read="athena")
    assert len(parsed) == 1, "one statement per file"
    assert isinstance(parsed[0], exp.Query), "pipeline statements are queries"
    assert "{{" not in sql and "}}" not in sql


@pytest.mark.parametrize("name", statements.STATEMENTS)
def test_every_statement_runs_on_duckdb(engine, name):
    sql = statements.render(name, DAYS)
    if name == "raw_events_profile":
        with engine.raw_scan(DAYS.extend(1)):
            result = engine.query(sql)
        assert result.rows  # the scenario's folders have rows
        return
    if name == "events":
        with engine.raw_scan(DAYS.extend(1)):
            result = engine.query(sql)
    elif name in statements.QUALITY_STATEMENTS:  # per-day counts; their numbers are tested
        with engine.raw_scan(DAYS.extend(1)):    # in test_quality_checks
            result = engine.query(sql)
        assert result.columns[0] == "day" and result.rows
        return
    else:
        result = engine.query(sql)
    if name in WAREHOUSE_TABLES:
        expected = [n for n, _ in WAREHOUSE_TABLES[name]] + ["dt"]
        assert result.columns == expected
        assert result.rows
    else:  # checks: the scenario passes both
        assert result.rows in ([(0,)], [])


PARQUET_TYPES = {"int": "int32", "bigint": "int64", "string": "string", "boolean": "bool",
                 "double": "double", "timestamp": "timestamp[ms]"}


@pytest.mark.parametrize("table", list(WAREHOUSE_TABLES))
def test_written_parquet_has_the_declared_types(engine, table):
    folder = engine.warehouse / table / f"dt={scenario.D}"
    (path,) = folder.glob("*.parquet")
    schema = pq.read_schema(path)
    assert schema.names == [n for n, _ in WAREHOUSE_TABLES[table]]  # dt lives in the folder
    for name, kind in WAREHOUSE_TABLES[table]:
        assert str(schema.field(name).type) == PARQUET_TYPES[kind], (table, name)
    assert set(PARQUET_TYPES) == set(DUCKDB_TYPES)


def test_event_columns_come_from_the_schema():
    fragments = statements.schema_fragments()
    assert fragments["event_columns"] == ", ".join(COLUMNS)
    for name in ("event_id", "visitor_id", "is_bot", "site"):
        assert f"{name} IS NOT NULL" in fragments["valid_event"]
    # no template spells out the field list itself
    for name in statements.STATEMENTS:
        text = statements.template(name)
        assert "utm_content" not in text and "os_version" not in text, name


def test_templates_use_only_known_placeholders():
    known = {"start", "end", "end_next", "folder_end", *statements.schema_fragments()}
    for name in statements.STATEMENTS:
        used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", statements.template(name)))
        assert used <= known, name
        assert used & {"start", "end"}, f"{name} takes a date range"


def test_render_fills_dates_of_the_range():
    sql = statements.render("site_daily", DayRange.of("2024-03-05", "2024-03-09"))
    assert "BETWEEN '2024-03-05' AND '2024-03-09'" in sql
    events = statements.render("events", DayRange.of("2024-03-05", "2024-03-09"))
    assert "BETWEEN '2024-03-05' AND '2024-03-10'" in events  # landing folders: one day more


@pytest.mark.parametrize("bad", ["2024-3-5", "2024-03-05' OR 1=1 --", "20240305", "", None,
                                 "2024-03-05T00:00"])
def test_only_strict_dates_become_days(bad):
    with pytest.raises((ValueError, TypeError)):
        DayRange.of(bad)
    with pytest.raises((ValueError, TypeError)):
        parse_day(bad)


def test_render_refuses_anything_but_a_day_range():
    with pytest.raises(TypeError):
        statements.render("site_daily", "2024-03-05")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        statements.render("site_daily; DROP TABLE x", DAYS)
    with pytest.raises(ValueError):
        DayRange(dt.date(2024, 3, 6), dt.date(2024, 3, 5))


@pytest.mark.parametrize("bad", ["site daily", "x;y", "Site", "1abc", "a" * 64, "t'"])
def test_identifiers_are_validated(bad):
    with pytest.raises(ValueError):
        statements.identifier(bad)


def test_unknown_placeholder_is_an_error(monkeypatch):
    monkeypatch.setattr(statements, "template", lambda name: "SELECT '{{evil}}'")
    with pytest.raises(KeyError, match="evil"):
        statements.render("site_daily", DAYS)


def test_day_range_chunks_respect_the_athena_partition_limit():
    days = DayRange.of("2024-01-01", "2024-12-31")
    chunks = days.chunks()
    assert [len(c) for c in chunks] == [100, 100, 100, 66]
    assert chunks[0].start == days.start and chunks[-1].end == days.end
    assert all(b.start - a.end == dt.timedelta(days=1) for a, b in zip(chunks, chunks[1:], strict=False))


def test_preview_lists_top_rows_of_a_summary(engine):
    result = engine.query(statements.preview("page_daily", DAYS))
    # latest day first, then the most viewed page
    assert result.rows[:2] == [("example.com", "/", 1, 1, 1, 1, "2024-03-06"),
                               ("example.com", "/", 2, 2, 2, 1, "2024-03-05")]
    assert result.columns[-1] == "dt"
    assert len(result.rows) == 8
    with pytest.raises(ValueError):
        statements.preview("events", DAYS)


def test_transpiled_statements_are_cached_and_single():
    sql = statements.render("bot_daily", DAYS)
    assert to_duckdb(sql) is to_duckdb(sql)
    with pytest.raises(ValueError):
        to_duckdb("SELECT 1; SELECT 2")


def test_sessions_without_page_views_and_conflicting_copies(tmp_path):
    """Entry/exit when a session opens with a custom event; copies of an event_id that
    differ keep the first in column order, whatever the file order."""

    d = scenario.D
    x = "x"
    records = [
        scenario.event("c1", scenario.t(d, "10:00:00.000"), x, event_type="custom",
                       event_name="play", path="/video/"),
        scenario.event("p1", scenario.t(d, "10:10:00.000"), x, path="/a/"),
        scenario.event("p2", scenario.t(d, "11:00:00.000"), x, path="/b/"),  # 50 min later
        scenario.event("p3", scenario.t(d, "11:05:00.000"), x, path="/c/"),
        scenario.event("dup", scenario.t(d, "12:00:00.000"), "y", path="/zz/"),
        scenario.event("dup", scenario.t(d, "12:00:00.000"), "y", path="/aa/"),
        scenario.event("dup", scenario.t(d, "12:00:00.000"), "0", path="/zz/"),  # other salt
    ]
    rows = _clean_events(tmp_path, [(scenario.t(d, "13:00:00.000"), records)],
                         "event_id, path, visitor_id, session_id, is_session_start, is_entry, "
                         "is_exit")
    xs = "x" * 16
    assert rows == [
        ("c1", "/video/", xs, f"{xs}-20240305-1", True, False, False),
        ("p1", "/a/", xs, f"{xs}-20240305-1", False, True, True),
        ("p2", "/b/", xs, f"{xs}-20240305-2", True, True, False),
        ("p3", "/c/", xs, f"{xs}-20240305-2", False, False, True),
        ("dup", "/aa/", "y" * 16, f"{'y' * 16}-20240305-1", True, True, True),
    ]


def _clean_events(tmp_path, landings, columns: str) -> list[tuple]:
    """Land each (arrival, records) through the Firehose emulator, run `events` for day D
    and read `columns` of its rows back in time order."""
    from edge.firehose import LocalFirehose
    from edge.schema import encode

    settings = Settings(home=tmp_path)
    with LocalFirehose(settings.landing, buffer_seconds=3600) as firehose:
        for arrival, records in landings:
            for r in records:
                firehose.put(encode(r), arrival=arrival.timestamp())
    days = DayRange(scenario.D, scenario.D)
    with LocalEngine(settings) as eng:
        eng.register_raw_partitions(days.extend(1))
        with eng.raw_scan(days.extend(1)):
            eng.replace_partitions("events", days, statements.render("events", days))
        return eng.query(f"SELECT {columns} FROM events "  # noqa: S608 - test's own columns
                         "ORDER BY event_time, event_id").rows


def test_copies_and_single_rows_count_only_when_valid(tmp_path):
    """An id with one raw row is kept exactly when that row is valid and of the day; among
    copies only valid ones of the day compete, even when an invalid copy would sort first
    (events.sql routes ids with several raw rows, valid or not, through the copy rule)."""

    d, d1 = scenario.D, scenario.D1
    x = "x"
    in_d = [
        scenario.event("ok", scenario.t(d, "09:00:00.000"), x),
        {**scenario.event("bad-hour", scenario.t(d, "09:30:00.000"), x),
         "event_time": f"{d.isoformat()}T25:00:00.000Z"},  # the pattern passes, no such time
        scenario.event("bad-version", scenario.t(d, "09:40:00.000"), x, schema_version=2),
        scenario.event("mixed", scenario.t(d, "10:00:00.000"), x, path="/zz/"),
        scenario.event("mixed", scenario.t(d, "10:00:00.000"), x, path="/aa/",
                       event_type="aaa"),  # unknown type: first in column order, not valid
        scenario.event("span", scenario.t(d, "23:59:59.000"), x, path="/d/"),
    ]
    in_d1 = [
        scenario.event("late", scenario.t(d, "23:00:00.000"), x),  # of D, landed in D+1
        scenario.event("span", scenario.t(d1, "00:00:01.000"), x, path="/d1/"),  # a copy of D+1
        scenario.event("next", scenario.t(d1, "00:10:00.000"), x),  # of D+1 only
    ]
    rows = _clean_events(tmp_path, [(scenario.t(d, "23:59:59.500"), in_d),
                                    (scenario.t(d1, "00:30:00.000"), in_d1)],
                         "event_id, path, session_id, is_session_start, dt")
    xs = "x" * 16
    day = d.strftime("%Y%m%d")
    assert rows == [
        ("ok", "/", f"{xs}-{day}-1", True, d.isoformat()),
        ("mixed", "/zz/", f"{xs}-{day}-2", True, d.isoformat()),
        ("late", "/", f"{xs}-{day}-3", True, d.isoformat()),
        ("span", "/d/", f"{xs}-{day}-4", True, d.isoformat()),
    ]
