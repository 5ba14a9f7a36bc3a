"""The Dagster code location: what loads, how it is partitioned, scheduled and configured."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from edge.config import ENV_VARS, Settings, env_vars_set
from orchestration.definitions import defs
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource, engine_resource
from orchestration.engine import MAX_PARTITIONS_PER_STATEMENT
from orchestration.tables import SUMMARY_TABLES

ROOT = Path(__file__).resolve().parents[2]
ASSETS = {"raw_events", "events", *SUMMARY_TABLES}
CHECKS = {"raw_events_files_match_schema", "events_one_row_per_event_id", "summaries_add_up",
          # issue 5's data-quality checks (orchestration.defs.quality)
          "schema_valid", "no_future_events", "firehose_errors", "duplicate_rate", "freshness",
          "late_arrival_share", "volume_anomaly", "bot_share", "geo_coverage"}


def test_definitions_load_every_asset_check_job_and_schedule():
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    assert {k.name for k in graph.asset_check_keys} == CHECKS
    job = defs.resolve_job_def("edgestats_daily")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == ASSETS
    schedule = defs.resolve_schedule_def("edgestats_daily_schedule")
    assert schedule.cron_schedule == "15 1 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "edgestats_daily"


def test_schedule_asks_for_the_previous_day():
    schedule = defs.resolve_schedule_def("edgestats_daily_schedule")
    when = dt.datetime(2026, 11, 22, 1, 15, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-21"


def test_one_daily_utc_partitioning_from_configuration():
    assert daily_partitions.timezone == "UTC"
    assert daily_partitions.start.date() == dt.date(2024, 1, 1)
    for key in ASSETS:
        asset = defs.resolve_assets_def(key)
        assert asset.partitions_def == daily_partitions
        assert asset.backfill_policy.max_partitions_per_run == MAX_PARTITIONS_PER_STATEMENT


def test_lineage_raw_events_then_events_then_summaries():
    graph = defs.resolve_asset_graph()
    deps = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
            for k in graph.get_all_asset_keys()}
    assert deps["raw_events"] == set()
    assert deps["events"] == {"raw_events"}
    assert all(deps[t] == {"events"} for t in SUMMARY_TABLES)


def test_engine_resource_binds_set_variables_with_envvar():
    env = {"EDGESTATS_HOME": "/data/edgestats", "EDGESTATS_BACKEND": "local", "HOME": "/root"}
    assert env_vars_set(env) == {"EDGESTATS_HOME", "EDGESTATS_BACKEND"}
    resource = engine_resource(env)
    assert resource.home == dg.EnvVar("EDGESTATS_HOME")
    assert resource.backend == dg.EnvVar("EDGESTATS_BACKEND")
    assert resource.athena_workgroup is None


def test_engine_resource_settings_fall_back_to_config_defaults(tmp_path):
    settings = EngineResource(home=str(tmp_path)).settings()
    assert settings.home == tmp_path and settings.backend == "local"
    assert EngineResource.from_settings(Settings(home=tmp_path)).settings() == Settings.from_env(
        {"EDGESTATS_HOME": str(tmp_path)})


@pytest.mark.parametrize("field", sorted(ENV_VARS))
def test_every_env_var_name_is_the_one_settings_reads(field):
    value = {"home": "/x", "backend": "athena", "partitions_start": "2023-01-01",
             "crawler_mode": "crawler", "crawler_timeout_seconds": "60",
             "firehose_buffer_seconds": "5", "firehose_buffer_bytes": "1000"}.get(field, "v")
    default = Settings.from_env({})
    changed = Settings.from_env({ENV_VARS[field]: value})
    assert getattr(changed, field) != getattr(default, field), field


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(240)
def test_webserver_serves_assets_and_schedule_over_graphql(tmp_path):
    port = _free_port()
    # the instance `edgestats materialize` makes (its dagster.yaml, pooled storages), as
    # `make ui` opens it
    from edge.config import Settings
    from orchestration.commands import dagster_instance

    dagster_instance(Settings(home=tmp_path / "edgestats"))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "edgestats" / "dagster"),
           "EDGESTATS_HOME": str(tmp_path / "edgestats")}
    env.pop("EDGESTATS_BACKEND", None)
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "webserver did not start"
            time.sleep(0.5)
        query = """{
          assetNodes { assetKey { path } }
          repositoriesOrError { ... on RepositoryConnection { nodes {
            location { name } schedules { name cronSchedule executionTimezone } } } }
        }"""
        for _ in range(60):  # the code location may still be loading
            data = requests.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
            if data.get("data", {}).get("assetNodes"):
                break
            time.sleep(1)
        nodes = {"/".join(n["assetKey"]["path"]) for n in data["data"]["assetNodes"]}
        assert nodes == ASSETS
        (repo,) = data["data"]["repositoriesOrError"]["nodes"]
        assert repo["location"]["name"] == "edgestats"
        assert repo["schedules"] == [{"name": "edgestats_daily_schedule",
                                      "cronSchedule": "15 1 * * *", "executionTimezone": "UTC"}]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
