"""The whole pipeline through Dagster on the hand-built scenario (DESIGN 4 and 6).

One module-scoped run materialises D and D+1 through `orchestration.commands.materialize`
(the job `edgestats materialize` runs, against a real Dagster instance on disk); the
tests then read the Parquet it wrote and compare with numbers counted by hand.
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from edge.config import Settings
from edge.useragent import parse_user_agent
from orchestration.commands import materialize
from orchestration.engine import DayRange
from orchestration.tables import SUMMARY_TABLES, WAREHOUSE_TABLES
from tests.orchestration import scenario
from tests.orchestration.scenario import D1, EXPECTED, D

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("pipeline")
    settings = Settings(home=home)
    scenario.land(settings.landing)
    out = io.StringIO()
    # the scenario's junk lines fail issue 5's blocking schema_valid (test_quality_checks
    # covers that); here they must reach the transforms, which count and skip them
    ok = materialize(settings, DayRange(D, D1), out=out, waive_blocking_checks=True)
    return settings, ok, out.getvalue()


def read(settings: Settings, table: str, day) -> list[tuple]:
    """Rows of one day of a table, sorted like EXPECTED, read straight from the files."""
    files = sorted((settings.warehouse / table / f"dt={day}").glob("*.parquet"))
    assert files, f"no files for {table} dt={day}"
    names = [n for n, _ in WAREHOUSE_TABLES[table]]
    rel = duckdb.read_parquet([str(f) for f in files])
    assert rel.columns == names, f"{table} columns {rel.columns} != DESIGN 6 {names}"
    keys = [n for n, t in WAREHOUSE_TABLES[table] if t == "string" or n == "hour"]
    return sorted(rel.fetchall(), key=lambda r: tuple((v is None, v) for v in
                                                      (r[names.index(k)] for k in keys)))


def assert_rows_equal(actual: list[tuple], expected: list[tuple]) -> None:
    assert len(actual) == len(expected), f"{actual} != {expected}"
    for a, e in zip(actual, expected, strict=True):
        for x, y in zip(a, e, strict=True):
            if isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12), f"{a} != {e}"
            else:
                assert x == y and type(x) is type(y), f"{a} != {e}"


def test_run_succeeds_and_prints_every_asset_and_check(run):
    _, ok, out = run
    assert ok, out
    for asset in ["raw_events", "events", *SUMMARY_TABLES]:
        assert f"ok       {asset} " in out
    for check in ["raw_events/raw_events_files_match_schema",
                  "events/events_one_row_per_event_id", "site_daily/summaries_add_up"]:
        assert f"\nCHECK {check} {D}..{D1} " in out
    # the object that is not gzip is reported by the crawl's check as a warning
    assert f"CHECK raw_events/raw_events_files_match_schema {D}..{D1} FAILED WARN " in out
    assert f"CHECK events/events_one_row_per_event_id {D}..{D1} PASSED ERROR " in out
    assert f"CHECK site_daily/summaries_add_up {D}..{D1} PASSED ERROR " in out
    assert "run succeeded" in out


def test_preconditions_of_the_scenario():
    ua = parse_user_agent(scenario.FIREFOX_LINUX)
    assert (ua.browser, ua.os, ua.device_type, ua.is_bot) == ("Firefox", "Linux", "desktop",
                                                              False)
    e = scenario.normalised_self_referral()
    assert e["path"] == "/docs/" and e["referrer_host"] is None


@pytest.mark.parametrize("table", list(SUMMARY_TABLES))
def test_summary_table_matches_hand_counts(run, table):
    settings, ok, _ = run
    assert ok
    assert_rows_equal(read(settings, table, D), EXPECTED[table])


def test_next_day_starts_new_sessions_at_midnight(run):
    settings, _, _ = run
    assert_rows_equal(read(settings, "site_daily", D1), scenario.EXPECTED_NEXT_DAY_SITE_DAILY)
    assert read(settings, "bot_daily", D1) == []


def test_clean_events_are_deduplicated_day_assigned_and_sessionised(run):
    settings, _, _ = run
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT event_id, session_id, is_session_start, is_entry, is_exit FROM read_parquet(?) "
        "ORDER BY event_id",
        [str(settings.warehouse / "events" / f"dt={D}" / "*.parquet")],
    ).fetchall()
    by_id = {r[0]: r[1:] for r in rows}
    v1 = "1" * 16
    assert set(by_id) == {"v1-home", "v1-pricing", "v1-signup", "v1-signup-event", "v2-home",
                          "v3-blog", "v5-docs", "v6-cart", "v7-truncated", "bot-1", "bot-2"}
    assert by_id["v1-home"] == (f"{v1}-20240305-1", True, True, False)
    assert by_id["v1-pricing"] == (f"{v1}-20240305-1", False, False, True)  # gap = 1800 s
    assert by_id["v1-signup"] == (f"{v1}-20240305-2", True, True, True)  # gap = 1800.001 s
    assert by_id["v1-signup-event"] == (f"{v1}-20240305-2", False, False, False)
    assert by_id["bot-1"][1:] == (True, True, False)  # bots are sessionised, flagged, kept
    assert by_id["bot-2"][1:] == (False, False, True)


def test_events_metadata_counts_what_was_skipped(run):
    settings, _, _ = run
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    from dagster import AssetKey

    mat = instance.get_latest_materialization_event(AssetKey("events")).asset_materialization
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["rows_by_day"] == {str(D): 11, str(D1): 1}
    # folder D: 9 events of D, one of D-1, one salvaged line, 2 malformed; D+1: 3; D+2: none
    assert meta["raw_rows_read"] == 16
    assert meta["malformed_lines"] == 2
    assert meta["late_arrivals"] == 2  # V2's 23:59:59.999 and V3's retried copy
    assert meta["duplicates_dropped"] == 1
    assert meta["truncated_files"] == 1
    assert meta["unreadable_files"] == 1
    assert "FROM raw_events" in meta["sql"]
    observations = instance.fetch_observations(AssetKey("raw_events"), limit=10).records
    seen = {o.partition_key: o.asset_observation.metadata for o in observations}
    assert seen[str(D)]["rows"].value == 13 and seen[str(D)]["malformed_lines"].value == 2
    site = instance.get_latest_materialization_event(AssetKey("site_daily")).asset_materialization
    assert "| site " in site.metadata["preview"].value
    assert site.metadata["dagster/row_count"].value == 3


def _digest(folder: Path) -> dict[str, list[str]]:
    """Each visible day folder's Parquet contents (file names are each write's own)."""
    return {
        str(day.relative_to(folder)): sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                                             for p in day.glob("*.parquet"))
        for day in sorted(folder.glob("*/dt=????-??-??"))
    }


def test_rematerialising_gives_identical_files_and_replaces_exactly_that_day(run, tmp_path):
    settings, _, _ = run
    copy = Settings(home=tmp_path / "again")
    scenario.land(copy.landing)
    assert materialize(copy, DayRange(D, D1), out=io.StringIO(), waive_blocking_checks=True)
    first = _digest(copy.warehouse)
    assert first == _digest(settings.warehouse)  # same landing -> byte-identical Parquet
    assert materialize(copy, DayRange(D, D), out=io.StringIO(), waive_blocking_checks=True)
    assert _digest(copy.warehouse) == first
    assert not list((copy.warehouse / ".staging").iterdir())

    # a new visitor on D: re-running D changes D and leaves D+1's files untouched
    scenario.add_visitor(copy.landing, "c", scenario.t(D, "16:00:00.000"),
                         scenario.t(D, "16:00:01.000"))
    d1_files = {p: p.stat().st_mtime_ns for p in (copy.warehouse).rglob(f"dt={D1}/*.parquet")}
    assert materialize(copy, DayRange(D, D), out=io.StringIO(), waive_blocking_checks=True)
    site, shop = read(copy, "site_daily", D)
    assert site[:5] == (scenario.SITE, 8, 6, 7, 5)
    assert {p: p.stat().st_mtime_ns for p in d1_files} == d1_files

