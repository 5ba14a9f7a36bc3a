"""Work `edgestats materialize` does once per run, not once per step."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.config import Settings
from orchestration import commands
from orchestration.backends.local import LocalEngine
from orchestration.definitions import defs
from orchestration.engine import DayRange
from tests.orchestration import scenario

pytestmark = pytest.mark.timeout(600)
D = scenario.D
D1 = D + dt.timedelta(days=1)


def test_the_schema_check_reuses_the_crawl_of_its_run(tmp_path, monkeypatch, capsys):
    crawls: list[str] = []
    real = LocalEngine.register_raw_partitions

    def counted(self, folders):
        crawls.append(str(folders))
        return real(self, folders)

    monkeypatch.setattr(LocalEngine, "register_raw_partitions", counted)
    settings = Settings(home=tmp_path)
    scenario.land(settings.landing)
    outcome = commands.materialize(settings, DayRange(D, D1), waive_blocking_checks=True)
    out = capsys.readouterr().out
    assert outcome.runs_ok, out
    assert crawls == [f"{D}..{D1 + dt.timedelta(days=1)}"]
    # the not-gzip object of the scenario is still reported by the check, from that crawl
    assert f"CHECK raw_events/raw_events_files_match_schema {D}..{D1} FAILED WARN " in out

    # a run of the check alone crawls for itself
    from dagster import AssetCheckKey, AssetKey

    from orchestration.defs.resources import EngineResource

    crawls.clear()
    check = AssetCheckKey(AssetKey("raw_events"), "raw_events_files_match_schema")
    job = defs.resolve_job_def(commands.JOB_NAME).get_subset(
        asset_selection=set(), asset_check_selection={check})
    result = job.execute_in_process(
        instance=commands.dagster_instance(settings), partition_key=str(D),
        resources={"engine": EngineResource.from_settings(settings)}, raise_on_error=False)
    assert result.success
    assert crawls == [f"{D}..{D1}"]
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == check and not evaluation.passed
