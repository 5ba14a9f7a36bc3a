"""The instance `edgestats materialize` writes: pooled SQLite storages in Dagster's layout."""

from __future__ import annotations

import datetime as dt
import sqlite3

import dagster as dg
import pytest

from edge.config import Settings
from orchestration import commands
from orchestration.dagster_storage import PooledSqliteEventLogStorage, PooledSqliteRunStorage
from orchestration.engine import DayRange
from tests.orchestration import scenario

pytestmark = pytest.mark.timeout(600)
DAY = dt.date(2024, 3, 5)
OLD_DEFAULT_YAML = """\
# Dagster instance of edgestats: `edgestats materialize` writes runs here and
# `make ui` (dagster dev, DAGSTER_HOME=$EDGESTATS_HOME/dagster) reads them.
telemetry:
  enabled: false
"""


def test_a_new_home_gets_the_pooled_storages(tmp_path):
    instance = commands.dagster_instance(Settings(home=tmp_path))
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    assert isinstance(instance.run_storage, PooledSqliteRunStorage)
    text = (tmp_path / "dagster" / "dagster.yaml").read_text()
    assert text == commands.dagster_yaml(tmp_path / "dagster")
    assert f"base_dir: {tmp_path}/dagster/history/runs\n" in text


def test_an_older_edgestats_yaml_is_rewritten_an_operators_kept(tmp_path):
    (tmp_path / "a" / "dagster").mkdir(parents=True)
    (tmp_path / "a" / "dagster" / "dagster.yaml").write_text(OLD_DEFAULT_YAML)
    instance = commands.dagster_instance(Settings(home=tmp_path / "a"))
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    own = "telemetry:\n  enabled: false\n"
    (tmp_path / "b" / "dagster").mkdir(parents=True)
    (tmp_path / "b" / "dagster" / "dagster.yaml").write_text(own)
    instance = commands.dagster_instance(Settings(home=tmp_path / "b"))
    assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert (tmp_path / "b" / "dagster" / "dagster.yaml").read_text() == own


def test_dagsters_default_storages_read_what_materialize_wrote(tmp_path):
    """`dagster dev` on a home without our dagster.yaml (or an older Dagster) still works:
    same files, same schema, committed on disk."""
    settings = Settings(home=tmp_path)
    scenario.land(settings.landing)
    outcome = commands.materialize(settings, DayRange(DAY, DAY), waive_blocking_checks=True)
    assert outcome.runs_ok
    # materialize closed its connections: every commit is in the .db files themselves
    assert sorted(p.name for p in (tmp_path / "dagster").rglob("*.db-wal")) == []
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    plain = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
    assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
    (run,) = plain.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert plain.get_materialized_partitions(dg.AssetKey("site_daily")) == {DAY.isoformat()}
    record = plain.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey("raw_events"), "schema_valid"))
    assert record.run_id == run.run_id and record.partition == DAY.isoformat()
    assert record.status.value == "FAILED"  # the scenario's junk lines, waived
    # WAL mode (Dagster sets it on every database it creates) is what makes NORMAL safe
    for path in (tmp_path / "dagster" / "history").rglob("*.db"):
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", path


def test_pooled_connections_are_synchronous_normal(tmp_path):
    instance = commands.dagster_instance(Settings(home=tmp_path))
    with instance.event_log_storage.index_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with instance.run_storage.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
