"""Issue 5's data-quality checks: every check fails on a crafted day and passes on clean ones.

One module-scoped `edgestats materialize` (the real command line, against a Dagster
instance on disk) covers the seventeen days of `quality_landing`: one range run, which
the three blocking failures stop, then the runs of the days they held back.  The tests
read its CHECK lines, the check evaluations recorded per partition, and the warehouse.
The threshold arithmetic is tested on its own below, with numbers counted by hand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re

import dagster as dg
import pytest

from edge.config import Settings
from orchestration import commands, statements
from orchestration.cli import main
from orchestration.defs.quality import checks, sensors
from orchestration.defs.resources import EngineResource
from orchestration.engine import DayRange, LandingObject, RawScan
from orchestration.tables import SUMMARY_TABLES
from tests.orchestration import quality_landing as q

pytestmark = pytest.mark.timeout(600)

RANGE = DayRange(q.DAYS[0], q.DAYS[-1])
RAW_CHECKS = set(checks.RAW_CHECKS)
EVENTS_CHECKS = set(checks.EVENTS_CHECKS)
LINE = re.compile(r"^CHECK (\S+)/(\S+) (\S+) (PASSED|FAILED) (ERROR|WARN) (.+)$")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("quality")
    q.land(home / "landing")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("EDGESTATS_HOME", str(home))
        mp.delenv("EDGESTATS_BACKEND", raising=False)
        code = main(["materialize", "--start", str(RANGE.start), "--end", str(RANGE.end)])
    settings = Settings(home=home)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    return settings, code, out.getvalue(), instance


def check_lines(out: str) -> dict[tuple[str, str], list[tuple]]:
    """(check, day) -> [(asset, status, severity, summary)] for issue 5's checks."""
    found: dict[tuple[str, str], list[tuple]] = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m and m.group(2) in checks.RULES:
            asset, name, day, status, severity, summary = m.groups()
            found.setdefault((name, day), []).append((asset, status, severity, summary))
    return found


def evaluations(instance, name: str) -> list[dg.AssetCheckEvaluation]:
    """Every recorded evaluation of check `name` (not the runs that planned one and were
    stopped before it: the held-back days' events checks in the blocked run)."""
    key = dg.AssetCheckKey(checks.RULES[name].asset, name)
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    return [r.event.dagster_event.event_specific_data for r in records
            if r.event.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]


def evaluation(instance, name: str, day: dt.date) -> dg.AssetCheckEvaluation:
    """The recorded evaluation of check `name` for partition `day` (the only one)."""
    found = [e for e in evaluations(instance, name) if e.partition == str(day)]
    assert len(found) == 1, (name, day, found)
    return found[0]


def meta(ev: dg.AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in ev.metadata.items()}


# ---------------------------------------------------------------- the seventeen days


def test_exit_code_1_because_error_checks_failed(run):
    _, code, out, _ = run
    assert code == 1, out
    assert f"  blocked: {q.JUNK}, {q.TRUNCATED}, {q.FUTURE} (no clean events, no summaries)" in out
    assert f"materialize {q.D1}..{q.LOW_VOLUME} again without the blocked days, run " in out
    assert f"materialize {q.ERRORS}..{q.EMPTY} again without the blocked days, run " in out
    assert out.count("  run succeeded") == 2


def test_one_check_line_per_check_and_day_with_the_right_outcome(run):
    _, _, out, _ = run
    lines = check_lines(out)
    expected = {(n, str(d)) for n in RAW_CHECKS for d in q.DAYS}
    expected |= {(n, str(d)) for n in EVENTS_CHECKS for d in q.DAYS if d not in q.BLOCKED}
    assert set(lines) == expected
    for (name, day), evaluations in lines.items():
        assert len(evaluations) == 1, (name, day, evaluations)  # the re-runs skip raw checks
        asset, status, severity, summary = evaluations[0]
        rule = checks.RULES[name]
        assert asset == rule.asset.to_user_string()
        assert severity == rule.severity.value
        failed = (name, dt.date.fromisoformat(day)) in q.FAILURES
        assert status == ("FAILED" if failed else "PASSED"), (name, day, summary)


def test_failing_checks_have_their_severity(run):
    _, _, out, _ = run
    lines = check_lines(out)
    assert lines[("schema_valid", str(q.JUNK))][0][1:3] == ("FAILED", "ERROR")
    assert lines[("no_future_events", str(q.FUTURE))][0][1:3] == ("FAILED", "ERROR")
    assert lines[("firehose_errors", str(q.ERRORS))][0][1:3] == ("FAILED", "ERROR")
    for name, day in [("duplicate_rate", q.DUPLICATES), ("late_arrival_share", q.LATE),
                      ("volume_anomaly", q.LOW_VOLUME), ("bot_share", q.BOTS),
                      ("geo_coverage", q.NO_COUNTRY), ("freshness", q.EMPTY)]:
        assert lines[(name, str(day))][0][1:3] == ("FAILED", "WARN"), name


def test_blocked_days_have_no_clean_events_and_no_summaries(run):
    settings, _, _, instance = run
    for day in q.BLOCKED:
        for table in ["events", *SUMMARY_TABLES]:
            assert not (settings.warehouse / table / f"dt={day}").exists(), (table, day)
    for table in ["events", *SUMMARY_TABLES]:
        done = instance.get_materialized_partitions(dg.AssetKey(table))
        assert done == {str(d) for d in q.DAYS if d not in q.BLOCKED}, table


def test_days_with_warnings_or_a_non_blocking_error_get_their_summaries(run):
    settings, _, _, _ = run
    for day in [q.LOW_VOLUME, q.ERRORS, q.DUPLICATES, q.LATE, q.BOTS, q.NO_COUNTRY, q.EMPTY]:
        for table in SUMMARY_TABLES:
            written = list((settings.warehouse / table / f"dt={day}").glob("*.parquet"))
            assert written, (table, day)
    days = f"'{q.ERRORS}', '{q.LATE}', '{q.BOTS}'"  # datetime.date values
    sql = f"SELECT dt, pageviews FROM site_daily WHERE dt IN ({days}) ORDER BY dt"  # noqa: S608
    site = commands.run_sql(settings, sql).rows
    assert site == [(str(q.ERRORS), 200), (str(q.LATE), 200), (str(q.BOTS), 100)]


def test_schema_valid_counts_junk_and_wrong_types_and_names_the_field(run):
    _, _, out, instance = run
    ev = evaluation(instance, "schema_valid", q.JUNK)
    assert ev.blocking and not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    m = meta(ev)
    assert (m["lines"], m["bad_lines"], m["malformed_lines"]) == (205, 5, 5)
    assert m["bad_line_share"] == pytest.approx(5 / 205)
    # arrivals 06:00:02 + 4k min fill 900 s buffers that open every 16 min: the junk of
    # 12:00:00.5 joins the buffer opened at 06:00:02 + 22 * 16 min = 11:52:02
    object_name = m["examples"][0]["object"]
    assert re.fullmatch(rf"edgestats-1-{q.JUNK}-11-52-02-[0-9a-f-]{{36}}\.gz", object_name)
    assert {e["object"] for e in m["examples"]} == {object_name}
    assert sorted((e["reason"], e["lines"]) for e in m["examples"]) == [
        ("is_bot: missing, null or wrong JSON type", 1),
        ("not JSON, or none of the required fields", 3),
        ("schema_version: missing, null or wrong JSON type", 1),
    ]
    assert ev.description == "5 malformed lines of 205 lines: 2.44% > 0.1%"


def test_schema_valid_counts_a_truncated_object(run):
    _, _, _, instance = run
    m = meta(evaluation(instance, "schema_valid", q.TRUNCATED))
    assert (m["lines"], m["bad_lines"], m["malformed_lines"], m["truncated_objects"]) == (
        202, 1, 0, 1)
    assert m["examples"] == [{"object": f"edgestats-1-{q.TRUNCATED}-05-00-00-truncated.gz",
                              "reason": "truncated gzip: the lines after the damage are lost",
                              "lines": 1}]


def test_no_line_content_reaches_any_check_metadata(run):
    """Examples carry object names and fixed reasons only: the IP in a junk line can't leak."""
    _, _, out, instance = run
    assert q.SECRET_IP not in out
    for name in checks.RULES:
        for ev in evaluations(instance, name):
            text = json.dumps(meta(ev), default=str) + (ev.description or "")
            assert q.SECRET_IP not in text and "this is not JSON" not in text, name


def test_no_future_events_names_the_object_and_the_lead(run):
    _, _, _, instance = run
    ev = evaluation(instance, "no_future_events", q.FUTURE)
    assert ev.blocking and not ev.passed
    m = meta(ev)
    assert (m["events"], m["future_events"], m["future_objects"]) == (201, 1, 1)
    # the object starts at 20:00:00 (the future event's own arrival); the event says 23:00
    assert m["example_object"].startswith(f"edgestats-1-{q.FUTURE}-20-00-00-")
    assert m["max_seconds_after_object_name"] == 3 * 3600
    assert m["limit_seconds_after_object_name"] == 1200
    clean = meta(evaluation(instance, "no_future_events", q.D5))
    assert clean["future_events"] == 0 and clean["max_seconds_after_object_name"] <= 900


def test_firehose_errors_lists_the_error_objects(run):
    _, _, out, instance = run
    ev = evaluation(instance, "firehose_errors", q.ERRORS)
    assert not ev.blocking and not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    m = meta(ev)
    assert m["objects"] == 1 and m["error_types"] == {"processing-failed": 1}
    assert m["examples"][0].startswith(f"errors/processing-failed/dt={q.ERRORS}/edgestats-1-")


def test_duplicate_rate(run):
    _, _, _, instance = run
    m = meta(evaluation(instance, "duplicate_rate", q.DUPLICATES))
    assert (m["events"], m["duplicates"], m["repeated_event_ids"], m["max_copies"]) == (
        206, 6, 6, 2)
    assert m["duplicate_share"] == pytest.approx(6 / 206)
    assert m["example_event_id"] == f"{q.DUPLICATES}-000"


def test_late_arrival_share(run):
    _, _, _, instance = run
    m = meta(evaluation(instance, "late_arrival_share", q.LATE))
    assert (m["events"], m["late_events"], m["late_share"]) == (200, 20, 0.1)
    assert meta(evaluation(instance, "late_arrival_share", q.D5))["late_events"] == 0


def test_volume_anomaly_after_seven_normal_days_and_skipped_without_history(run):
    _, _, _, instance = run
    m = meta(evaluation(instance, "volume_anomaly", q.LOW_VOLUME))
    assert (m["pageviews"], m["history_days"], m["median_pageviews"], m["ratio"]) == (
        20, 7, 200.0, 0.1)
    assert m["history"] == ", ".join(f"{d}=200" for d in q.DAYS[:7])
    for day, history in [(q.D1, 0), (q.D2, 1), (q.D3, 2)]:
        ev = evaluation(instance, "volume_anomaly", day)
        assert ev.passed and meta(ev)["history_days"] == history
        assert meta(ev)["skipped"].startswith(f"skipped: {history} day(s) with clean events")
    d4 = evaluation(instance, "volume_anomaly", q.D4)
    assert d4.passed and meta(d4)["ratio"] == 1.0 and "skipped" not in meta(d4)
    # the blocked days are no history; the 20-view day is: 20, 200, 200, 200 -> 200
    errors_day = meta(evaluation(instance, "volume_anomaly", q.ERRORS))
    assert (errors_day["history_days"], errors_day["median_pageviews"]) == (4, 200.0)


def test_bot_share_and_geo_coverage(run):
    _, _, out, instance = run
    m = meta(evaluation(instance, "bot_share", q.BOTS))
    assert (m["events"], m["bot_events"], m["bot_share"]) == (200, 100, 0.5)
    ev = evaluation(instance, "geo_coverage", q.NO_COUNTRY)
    assert (meta(ev)["events_without_country"], meta(ev)["no_country_share"]) == (200, 1.0)
    assert meta(ev)["by_ingest"] == "simulator=200"
    assert "CloudFront-Viewer-Country" in ev.description
    assert "CloudFront-Viewer-Country" in checks.RULES["geo_coverage"].description


def test_freshness_fails_for_a_day_without_landing_data(run):
    _, _, _, instance = run
    ev = evaluation(instance, "freshness", q.EMPTY)
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    deadline = f"{q.EMPTY + dt.timedelta(days=1)} 02:00 UTC"
    assert ev.description == f"no landing data under events/dt={q.EMPTY}/ by {deadline}"
    assert meta(evaluation(instance, "freshness", q.D5))["objects"] > 0


def test_clean_days_pass_every_check(run):
    _, _, out, _ = run
    lines = check_lines(out)
    for day in q.DAYS[3:7]:
        for name in checks.RULES:
            assert lines[(name, str(day))][0][1] == "PASSED", (name, day)


def test_check_statuses_per_partition_over_graphql(run):
    """What the UI's asset check page reads: a status per daily partition."""
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    _, _, _, instance = run
    query = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
      ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name
        partitionStatuses { ... on AssetCheckTimePartitionStatuses {
          ranges { startKey endKey status } } } } } } } } }"""
    file = str(checks.__file__).replace("defs/quality/checks.py", "definitions.py")
    with define_out_of_process_context(file, "defs", instance) as context:
        statuses = {}
        for asset in ("raw_events", "events"):
            result = execute_dagster_graphql(context, query, {"path": [asset]})
            node = result.data["assetNodeOrError"]["assetChecksOrError"]["checks"]
            statuses.update({c["name"]: {(r["startKey"], r["endKey"]): r["status"]
                                         for r in c["partitionStatuses"]["ranges"]}
                             for c in node})

    def days(*pairs):
        return {(str(a), str(b)): status for a, b, status in pairs}

    assert statuses["schema_valid"] == days((q.D1, q.LOW_VOLUME, "SUCCEEDED"),
                                            (q.JUNK, q.TRUNCATED, "FAILED"),
                                            (q.FUTURE, q.EMPTY, "SUCCEEDED"))
    assert statuses["freshness"] == days((q.D1, q.NO_COUNTRY, "SUCCEEDED"),
                                         (q.EMPTY, q.EMPTY, "FAILED"))
    # the blocked days' events checks were planned by the stopped run and never ran
    assert statuses["bot_share"] == days((q.D1, q.LOW_VOLUME, "SUCCEEDED"),
                                         (q.JUNK, q.FUTURE, "EXECUTION_FAILED"),
                                         (q.ERRORS, q.LATE, "SUCCEEDED"),
                                         (q.BOTS, q.BOTS, "FAILED"),
                                         (q.NO_COUNTRY, q.EMPTY, "SUCCEEDED"))


# ---------------------------------------------------------------- clean data, one day


def test_clean_day_passes_everything_and_exits_0(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGESTATS_HOME", str(tmp_path))
    q.land(tmp_path / "landing", [q.D1])
    assert main(["materialize", "--start", str(q.D1), "--end", str(q.D1)]) == 0
    out = capsys.readouterr().out
    lines = check_lines(out)
    assert set(lines) == {(n, str(q.D1)) for n in checks.RULES}
    assert all(v[0][1] == "PASSED" for v in lines.values())
    assert (f"CHECK raw_events/schema_valid {q.D1} PASSED ERROR 0 malformed lines of 200 "
            "lines: 0% <= 0.1%") in out


def test_waived_day_runs_through_but_still_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGESTATS_HOME", str(tmp_path))
    q.land(tmp_path / "landing", [q.FUTURE])
    argv = ["materialize", "--start", str(q.FUTURE), "--end", str(q.FUTURE)]
    assert main([*argv, "--waive-blocking-checks"]) == 1
    out = capsys.readouterr().out
    assert f"CHECK raw_events/no_future_events {q.FUTURE} FAILED ERROR 1 of 201 events" in out
    assert "run succeeded" in out
    assert list((tmp_path / "warehouse" / "site_daily" / f"dt={q.FUTURE}").glob("*.parquet"))


# ---------------------------------------------------------------- the thresholds, by hand


def test_thresholds_are_strictly_above():
    row = {"lines": 1000, "bad_lines": 1}
    assert checks.judge_schema_valid("2024-05-01", row, []).passed  # 0.1% is allowed
    assert not checks.judge_schema_valid("2024-05-01", {"lines": 999, "bad_lines": 1}, []).passed
    assert checks.judge_duplicate_rate("d", {"events": 100, "distinct_event_ids": 99}).passed
    assert not checks.judge_duplicate_rate("d", {"events": 100, "distinct_event_ids": 98}).passed
    assert checks.judge_late_arrival_share("d", {"events": 100, "late_events": 5}).passed
    assert not checks.judge_late_arrival_share("d", {"events": 100, "late_events": 6}).passed
    assert checks.judge_bot_share("d", {"events": 10, "bot_events": 4}).passed
    assert not checks.judge_bot_share("d", {"events": 100, "bot_events": 41}).passed
    assert checks.judge_geo_coverage("d", {"events": 10, "events_without_country": 2}).passed
    assert not checks.judge_geo_coverage("d", {"events": 100,
                                               "events_without_country": 21}).passed


def test_no_rows_is_no_failure():
    for judge in (checks.judge_duplicate_rate, checks.judge_late_arrival_share,
                  checks.judge_bot_share, checks.judge_geo_coverage,
                  checks.judge_no_future_events):
        assert judge("2024-05-01", None).passed, judge.__name__
    assert checks.judge_schema_valid("2024-05-01", None, []).passed


def test_damaged_objects_count_only_for_their_own_folder():
    scan = RawScan(truncated_files=["dt=2024-05-01/a.gz", "dt=2024-05-02/b.gz"],
                   unreadable_files=["dt=2024-05-01/c.gz"])
    v = checks.judge_schema_valid("2024-05-01", {"lines": 1998, "bad_lines": 0}, [], scan)
    assert (v.metadata["lines"], v.metadata["bad_lines"]) == (2000, 2)
    assert v.passed  # 2 of 2,000 = 0.1%
    assert v.summary == ("0 malformed lines + 1 truncated object + 1 unreadable object of "
                         "2,000 lines: 0.1% <= 0.1%")


@pytest.mark.parametrize("pageviews, median, passed", [
    (60, 200.0, True), (59, 200.0, False), (600, 200.0, True), (601, 200.0, False),
    (0, 0.0, True), (5, 0.0, False),
])
def test_volume_band_is_inclusive(pageviews, median, passed):
    row = {"pageviews": pageviews, "history_days": 3, "median_pageviews": median}
    assert checks.judge_volume_anomaly("2024-05-10", row).passed is passed


def test_volume_median_of_an_even_history_is_the_mean_of_the_middle_two(tmp_path):
    """History 10, 100, 40, 20 page views -> median (20 + 40) / 2 = 30, in the SQL."""
    from edge.firehose import LocalFirehose
    from edge.schema import encode
    from orchestration.backends.local import LocalEngine

    counts = {q.D1: 10, q.D2: 100, q.D3: 40, q.D4: 20, q.D5: 30}
    with LocalFirehose(tmp_path / "landing", buffer_seconds=q.BUFFER_SECONDS) as firehose:
        for day, n in counts.items():
            for e in q.day_events(day, n):
                firehose.put(encode(e), arrival=q.arrival(e))
    days = DayRange(q.D1, q.D5)
    with LocalEngine(Settings(home=tmp_path)) as eng:
        eng.register_raw_partitions(days.extend(1))
        with eng.raw_scan(days.extend(1)):
            eng.replace_partitions("events", days, statements.render("events", days))
        sql = statements.render("check_volume_anomaly", DayRange(q.D5, q.D5))
        (row,) = eng.query(sql).records()
    assert row == {"day": str(q.D5), "pageviews": 30, "history_days": 4,
                   "median_pageviews": 30.0,
                   "history": f"{q.D1}=10, {q.D2}=100, {q.D3}=40, {q.D4}=20"}


def test_freshness_before_and_after_the_deadline():
    day = "2024-05-01"
    nothing: list[LandingObject] = []
    before = dt.datetime(2024, 5, 2, 1, 59, 59, tzinfo=dt.timezone.utc)
    after = dt.datetime(2024, 5, 2, 2, 0, tzinfo=dt.timezone.utc)
    assert checks.judge_freshness(day, nothing, before).passed
    assert "due by 2024-05-02 02:00 UTC" in checks.judge_freshness(day, nothing, before).summary
    assert not checks.judge_freshness(day, nothing, after).passed
    landed = [LandingObject("events/dt=2024-05-01/x.gz", day, 10)]
    assert checks.judge_freshness(day, landed, after).passed


def test_freshness_sensor_records_yesterday_once_after_two(tmp_path, monkeypatch):
    (tmp_path / "landing").mkdir()
    q.land(tmp_path / "landing", [q.D1])
    engine = EngineResource(home=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    sensor = sensors.raw_events_freshness_sensor

    def tick(now: dt.datetime, cursor: str | None = None):
        monkeypatch.setattr(checks, "utc_now", lambda: now)
        with dg.build_sensor_context(instance=instance, cursor=cursor,
                                     resources={"engine": engine}) as context:
            return sensor(context)

    at = dt.datetime.combine(q.D1 + dt.timedelta(days=1), dt.time(1, 0), dt.timezone.utc)
    assert isinstance(tick(at, cursor=str(q.D1 - dt.timedelta(days=1))), dg.SkipReason)
    result = tick(at + dt.timedelta(hours=1), cursor=str(q.D1 - dt.timedelta(days=1)))
    (ev,) = result.asset_events
    assert (ev.check_name, ev.partition, ev.passed, result.cursor) == (
        "freshness", str(q.D1), True, str(q.D1))
    assert isinstance(tick(at + dt.timedelta(hours=3), cursor=str(q.D1)), dg.SkipReason)
    # the next day has no landing data: failed, and recorded for its partition
    result = tick(at + dt.timedelta(days=1, hours=1), cursor=str(q.D1))
    (ev,) = result.asset_events
    assert (ev.partition, ev.passed, ev.severity) == (str(q.D2), False,
                                                      dg.AssetCheckSeverity.WARN)
    instance.report_runless_asset_event(ev)
    key = dg.AssetCheckKey(dg.AssetKey("raw_events"), "freshness")
    (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
    assert record.partition == str(q.D2)


def test_the_sql_allows_the_firehose_buffer_plus_five_minutes():
    text = statements.template("check_no_future_events")
    limit = checks.FIREHOSE_MAX_BUFFER_S + checks.FUTURE_TOLERANCE_S
    assert f"INTERVAL '{limit}' SECOND" in text
