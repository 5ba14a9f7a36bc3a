"""Damaged landing data, materialised twice through Dagster: nothing good lost, all bad counted.

The landing day is `corrupt_landing` (25,000 good events, every kind of damage mixed
in, the numbers in its docstring).  `edgestats materialize`'s own function runs against a
real Dagster instance on disk; the tests read the Parquet it wrote and the metadata it
recorded.
"""

from __future__ import annotations

import io

import pytest
from dagster import AssetKey, DagsterInstance

from edge.config import Settings
from orchestration.commands import materialize
from orchestration.engine import DayRange
from orchestration.tables import SUMMARY_TABLES, WAREHOUSE_TABLES
from tests.orchestration.test_pipeline import assert_rows_equal, read
from tests.reliability import corrupt_landing
from tests.reliability.corrupt_landing import EXPECTED, D

pytestmark = pytest.mark.timeout(600)


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    """Every warehouse table's rows for D, in a stable order."""
    return {table: sorted(read(settings, table, D), key=repr) for table in WAREHOUSE_TABLES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("corrupt")
    settings = Settings(home=home)
    corrupt_landing.land(settings.landing)
    outs, snaps = [], []
    for _ in range(2):  # the second run re-materialises the same day
        out = io.StringIO()
        ok = materialize(settings, DayRange(D, D), out=out)
        outs.append((ok, out.getvalue()))
        snaps.append(snapshot(settings))
    return settings, outs, snaps


def test_materialisation_completes_despite_every_kind_of_damage(runs):
    _, outs, _ = runs
    for ok, out in outs:
        assert ok, out
        assert "run succeeded" in out
        assert (f"{corrupt_landing.GOOD_EVENTS:,} rows ({corrupt_landing.MALFORMED_LINES} "
                "malformed lines skipped, 1 truncated objects salvaged, 2 unreadable objects "
                "skipped)") in out


@pytest.mark.parametrize("table", list(SUMMARY_TABLES))
def test_every_good_row_is_in_the_summary_tables(runs, table):
    settings, _, _ = runs
    assert_rows_equal(read(settings, table, D), EXPECTED[table])


def test_clean_events_hold_exactly_the_good_events(runs):
    settings, _, snaps = runs
    ids = {row[1] for row in snaps[0]["events"]}
    assert ids == {e["event_id"] for e in corrupt_landing.good_events()}


def test_bad_lines_and_objects_are_counted_in_the_metadata(runs):
    settings, _, _ = runs
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    record = instance.get_latest_materialization_event(AssetKey("events"))
    meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    assert meta["malformed_lines"] == corrupt_landing.MALFORMED_LINES
    assert meta["truncated_files"] == corrupt_landing.TRUNCATED_FILES
    assert meta["unreadable_files"] == corrupt_landing.UNREADABLE_FILES
    assert meta["duplicates_dropped"] == 0
    assert meta["raw_rows_read"] == corrupt_landing.GOOD_EVENTS + corrupt_landing.MALFORMED_LINES
    assert meta["dagster/row_count"] == corrupt_landing.GOOD_EVENTS
    crawl = instance.get_latest_materialization_event(AssetKey("raw_events"))
    crawl_meta = {k: v.value for k, v in crawl.asset_materialization.metadata.items()}
    # the crawl sniffs names of first-line columns only: it flags the 3 objects that do not
    # start like an event file (zero bytes, not gzip, empty gzip), not types.gz
    assert crawl_meta["problem_files"] == 3


def test_materialising_the_day_twice_gives_identical_tables(runs):
    _, _, (first, second) = runs
    assert first.keys() == second.keys() == WAREHOUSE_TABLES.keys()
    for table in WAREHOUSE_TABLES:
        assert first[table] == second[table], table


def _defined_checks() -> set[str]:
    from orchestration.definitions import defs

    return {key.name for key in defs.resolve_asset_graph().asset_check_keys}


@pytest.mark.skipif("schema_valid" not in _defined_checks(),
                    reason="the quality checks of issue 5 are not defined yet")
def test_quality_checks_count_the_bad_lines(runs):
    """Issue 5's `schema_valid` counts the 14 bad lines plus one per truncated or
    unreadable object (its definition): 17 of ~25,000, below its 0.1% threshold, so it
    passes and the summaries are written, with the count in its metadata."""
    settings, _, _ = runs
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    from dagster import AssetCheckKey

    key = AssetCheckKey(AssetKey("raw_events"), "schema_valid")
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    assert evaluation is not None
    result = evaluation.event.dagster_event.event_specific_data
    assert result.passed
    values = [m.value for m in result.metadata.values()]
    bad = (corrupt_landing.MALFORMED_LINES + corrupt_landing.TRUNCATED_FILES
           + corrupt_landing.UNREADABLE_FILES)
    assert bad in values, result.metadata
