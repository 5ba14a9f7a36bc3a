"""`edgestats materialize`, `sql` and `demo` through the real command line entry point."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration import commands
from orchestration.cli import main
from tests.orchestration import scenario

pytestmark = pytest.mark.timeout(600)


def yesterday() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "2024-03-06", "--end", "2024-03-05"], "is before --start"),
        (["--start", "2023-12-31", "--end", "2024-01-02"], "before the first partition 2024-01-01"),
        (["--start", "2024-03-05", "--end", "2999-01-01"], "is not a finished UTC day"),
    ],
)
def test_materialize_bad_ranges_exit_2_with_one_line(edgestats_home, capsys, argv, message):
    assert main(["materialize", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (edgestats_home / "dagster").exists()  # nothing ran


def test_materialize_today_is_refused(edgestats_home, capsys):
    today = (yesterday() + dt.timedelta(days=1)).isoformat()
    assert main(["materialize", "--start", today, "--end", today]) == 2
    assert f"latest day to materialise is {yesterday()}" in capsys.readouterr().err


def test_materialize_date_that_is_not_a_date_exits_2(edgestats_home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["materialize", "--start", "2024-02-30", "--end", "2024-03-01"])
    assert exc.value.code == 2
    assert "is not a date; use YYYY-MM-DD" in capsys.readouterr().err


@pytest.fixture
def materialised(edgestats_home, capsys):
    scenario.land(edgestats_home / "landing")
    # the scenario's junk lines fail issue 5's blocking schema_valid: waived, so the day's
    # tables are written, and the exit code still says an ERROR check failed
    code = main(["materialize", "--start", "2024-03-05", "--end", "2024-03-05",
                 "--waive-blocking-checks"])
    return code, capsys.readouterr().out


def test_materialize_runs_every_asset_and_records_the_run(materialised, edgestats_home):
    code, out = materialised
    assert code == 1, out
    assert "\nCHECK raw_events/schema_valid 2024-03-05 FAILED ERROR " in out
    assert out.startswith("materialize 2024-03-05 (1 day), run ")
    assert "  ok       site_daily" in out
    assert "\nCHECK site_daily/summaries_add_up 2024-03-05 PASSED ERROR " in out
    from dagster import AssetKey, DagsterInstance

    instance = DagsterInstance.from_config(str(edgestats_home / "dagster"))
    (run,) = instance.get_runs()
    assert run.job_name == "edgestats_daily" and run.status.value == "SUCCESS"
    partitions = instance.get_materialized_partitions(AssetKey("bot_daily"))
    assert partitions == {"2024-03-05"}


def test_sql_reads_the_summary_tables_in_athena_or_duckdb_dialect(materialised, capsys):
    assert main(["sql", "SELECT site, pageviews FROM site_daily ORDER BY site"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2:4] == ["example.com                 7",
                                     "shop.example.com            1"]
    assert out.rstrip().endswith("(2 rows)")
    # DuckDB-only syntax is accepted too
    assert main(["sql", "SELECT * EXCLUDE (dt) FROM bot_daily"]) == 0
    assert "Googlebot" in capsys.readouterr().out
    assert main(["sql", "SELECT count(*) AS n FROM events WHERE is_bot"]) == 0
    assert capsys.readouterr().out.split()[2] == "2"


@pytest.mark.parametrize(
    "query, message",
    [
        ("DELETE FROM site_daily", "only SELECT queries are allowed here, not DELETE"),
        ("DROP TABLE site_daily", "only SELECT queries are allowed here, not DROP"),
        ("COPY site_daily TO '/tmp/x.csv'", "only SELECT queries are allowed here"),
        ("SELECT 1; DROP TABLE site_daily", "exactly one SQL statement"),
        ("SELEC nonsense FROM", "could not parse"),
        ("SELECT * FROM no_such_table", "query failed"),
        ("   ", "no SQL given"),
    ],
)
def test_sql_refuses_anything_but_one_select(edgestats_home, capsys, query, message):
    assert main(["sql", query]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_materialize_failure_exits_1(edgestats_home, capsys):
    scenario.land(edgestats_home / "landing")
    (edgestats_home / "warehouse").write_text("a file where the warehouse folder should be")
    assert main(["materialize", "--start", "2024-03-05", "--end", "2024-03-05",
                 "--waive-blocking-checks"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   raw_events" in out or "FAILED   events" in out
    assert "run FAILED" in out


def test_demo_twice_gives_the_same_numbers(edgestats_home, capsys, monkeypatch):
    monkeypatch.setattr(commands, "DEMO_PAGEVIEWS_PER_DAY", 300)
    monkeypatch.setattr(commands, "DEMO_DAYS", 2)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert main(["demo"]) == 0
    second = capsys.readouterr().out

    def table(out: str) -> str:
        return out.split("\nsite_daily\n", 1)[1].split("\n\n", 1)[0]

    assert table(first) == table(second)
    rows = table(first).splitlines()[2:]
    assert len(rows) >= 2 and all(int(r.split()[2].replace(",", "")) > 0 for r in rows)
    assert "make ui" in first and "dagster dev -h 127.0.0.1" in first
    assert (edgestats_home / "report.html").exists()
