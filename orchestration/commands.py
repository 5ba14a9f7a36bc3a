"""`edgestats materialize`, `edgestats sql` and `edgestats demo` (DESIGN 8).

`materialize` runs the `edgestats_daily` job through Dagster's own API against the
instance in `$EDGESTATS_HOME/dagster`, so its runs, materialisations and check results
are what `dagster dev` (`make ui`) shows afterwards.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import sqlglot
from sqlglot import exp

from edge.config import Settings
from orchestration.cli import UsageError
from orchestration.engine import MAX_PARTITIONS_PER_STATEMENT, DayRange, QueryResult, make_engine

JOB_NAME = "edgestats_daily"
DEMO_DAYS = 7
DEMO_PAGEVIEWS_PER_DAY = 4000
DEMO_SEED = 1
# the status lines say what happened; details and stack traces are in the run's log (UI)
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DAGSTER_YAML = """\
# Dagster instance of edgestats: `edgestats materialize` writes runs here and
# `make ui` (dagster dev, DAGSTER_HOME=$EDGESTATS_HOME/dagster) reads them.
telemetry:
  enabled: false
"""


# ---------------------------------------------------------------- materialize


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def check_range(start: dt.date, end: dt.date, settings: Settings) -> DayRange:
    """The days to materialise, or a UsageError saying what is wrong with them."""
    from orchestration.defs.partitions import partitions_start

    if end < start:
        raise UsageError(f"--end {end} is before --start {start}; give an end on or after the start")
    first = dt.date.fromisoformat(partitions_start(settings))
    if start < first:
        raise UsageError(
            f"--start {start} is before the first partition {first}; "
            "set EDGESTATS_PARTITIONS_START to an earlier date to import older history"
        )
    last = utc_today() - dt.timedelta(days=1)
    if end > last:
        raise UsageError(
            f"--end {end} is not a finished UTC day yet; the latest day to materialise is {last}"
        )
    return DayRange(start, end)


def dagster_instance(settings: Settings):
    """The persistent Dagster instance under $EDGESTATS_HOME/dagster (created if missing)."""
    from dagster import DagsterInstance

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return DagsterInstance.from_config(str(home))


@dataclass
class StepLine:
    name: str
    status: str  # ok | FAILED | skipped | passed | WARN | FAILED-CHECK
    detail: str
    seconds: float | None = None


def _run_lines(result) -> list[StepLine]:
    """One line per asset step and check, in execution order."""
    lines: list[StepLine] = []
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "STEP_SUCCESS":
            node = event.step_key
            mats = result.asset_materializations_for_node(node)
            if not mats:
                continue
            meta = mats[0].metadata
            rows = meta.get("dagster/row_count")
            files = meta.get("files")
            if rows is not None:
                detail = f"{rows.value:,} rows" + _skipped(meta)
            elif files is not None:
                detail = f"{files.value:,} landing objects, {meta['bytes'].value:,} bytes"
            else:
                detail = ""
            lines.append(StepLine(node, "ok", detail, event.event_specific_data.duration_ms / 1000))
        elif kind == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:  # the user code's own error
                error = error.cause
            message = (error.message if error else "failed").strip().splitlines()[0]
            lines.append(StepLine(event.step_key, "FAILED", message))
        elif kind == "STEP_SKIPPED":
            lines.append(StepLine(event.step_key, "skipped", "an upstream step failed"))
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            status = "passed" if ev.passed else (
                "WARN" if ev.severity.value == "WARN" else "FAILED-CHECK"
            )
            lines.append(StepLine(f"check {ev.check_name}", status, ""))
    return lines


def _skipped(meta) -> str:
    """What `events` left out of the landing zone, when it left anything out."""
    parts = []
    for key, words in (("malformed_lines", "malformed lines skipped"),
                       ("duplicates_dropped", "duplicates dropped"),
                       ("truncated_files", "truncated objects salvaged"),
                       ("unreadable_files", "unreadable objects skipped")):
        value = meta.get(key)
        if value is not None and value.value:
            parts.append(f"{value.value:,} {words}")
    return f" ({', '.join(parts)})" if parts else ""


def materialize(settings: Settings, days: DayRange, out: TextIO | None = None) -> bool:
    """Run every asset and check for `days`, at most 100 days per run; True if all passed."""
    out = out or sys.stdout
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from orchestration.definitions import defs
    from orchestration.defs.resources import EngineResource

    instance = dagster_instance(settings)
    job = defs.resolve_job_def(JOB_NAME)
    engine = EngineResource.from_settings(settings)
    ok = True
    for chunk in days.chunks(MAX_PARTITIONS_PER_STATEMENT):
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: chunk.start.isoformat(),
                ASSET_PARTITION_RANGE_END_TAG: chunk.end.isoformat(),
            },
            resources={"engine": engine},
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        print(f"materialize {chunk} ({len(chunk)} day{'s' if len(chunk) > 1 else ''}), "
              f"run {result.run_id[:8]}", file=out)
        for line in _run_lines(result):
            secs = f"{line.seconds:6.2f} s" if line.seconds is not None else ""
            print(f"  {line.status:<8} {line.name:<40} {secs:>9}  {line.detail}".rstrip(), file=out)
        status = "succeeded" if result.success else "FAILED"
        print(f"  run {status} in {time.perf_counter() - started:.1f} s", file=out)
        ok = ok and result.success
        if not result.success:
            break
    return ok


def materialize_cli(args, settings: Settings) -> int:
    days = check_range(args.start, args.end, settings)
    return 0 if materialize(settings, days) else 1


# ---------------------------------------------------------------- sql

_READ_ONLY = (exp.Query,)


def _single_select(text: str) -> list[str]:
    """The dialects (athena, duckdb) `text` parses in as one read-only query."""
    if not text.strip():
        raise UsageError("no SQL given; pass one SELECT statement in quotes")
    readable, kinds = [], set()
    for dialect in ("athena", "duckdb"):
        try:
            parsed = [e for e in sqlglot.parse(text, read=dialect) if e is not None]
        except sqlglot.errors.ParseError:
            continue
        if len(parsed) != 1:
            raise UsageError("give exactly one SQL statement (no `;`-separated list)")
        if isinstance(parsed[0], _READ_ONLY):
            readable.append(dialect)
        else:
            kinds.add(parsed[0].key.upper())
    if not readable:
        if kinds:
            raise UsageError(f"only SELECT queries are allowed here, not {sorted(kinds)[0]}")
        raise UsageError("could not parse the query as Athena or DuckDB SQL")
    return readable


def run_sql(settings: Settings, text: str) -> QueryResult:
    """Run a read-only query written in Athena or DuckDB SQL over the warehouse tables."""
    dialects = _single_select(text)
    errors = []
    with make_engine(settings) as engine:
        for dialect in dialects:
            sql = text if dialect == "athena" else sqlglot.transpile(
                text, read="duckdb", write="athena")[0]
            try:
                return engine.query(sql)
            except Exception as e:  # any engine error: reported as one line below
                errors.append(str(e).strip().splitlines()[0])
    raise UsageError(f"query failed: {errors[0]}")


def sql_cli(args, settings: Settings) -> int:
    from tabulate import tabulate

    result = run_sql(settings, args.query)
    print(tabulate(result.rows, headers=result.columns, tablefmt="simple", missingval="NULL",
                   floatfmt=".4g", intfmt=","))
    print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return 0


# ---------------------------------------------------------------- demo


def demo_cli(args, settings: Settings) -> int:
    """Simulate the last week, materialise it, print site_daily, write the report."""
    from edge.simulate import simulate_to_landing

    today = utc_today()
    days = DayRange(today - dt.timedelta(days=DEMO_DAYS), today - dt.timedelta(days=1))
    print(f"simulating {DEMO_PAGEVIEWS_PER_DAY:,} page views a day for {days} "
          f"(seed {DEMO_SEED}) into {settings.landing}")
    simulate_to_landing(settings.landing, days.start, DEMO_DAYS, DEMO_PAGEVIEWS_PER_DAY,
                        seed=DEMO_SEED)
    if not materialize(settings, days):
        print("edgestats: the pipeline failed; see the lines above", file=sys.stderr)
        return 1
    columns = ("dt, site, pageviews, visitors, sessions, bounces, bounce_rate, "
               "avg_visit_duration_s, views_per_session")
    where = f"dt BETWEEN '{days.start}' AND '{days.end}'"  # dates from datetime.date
    result = run_sql(settings, f"SELECT {columns} FROM site_daily WHERE {where} ORDER BY dt, site")  # noqa: S608
    from tabulate import tabulate

    print("\nsite_daily")
    print(tabulate(result.rows, headers=result.columns, tablefmt="simple", floatfmt=".3g",
                   intfmt=","))
    report = write_demo_report(settings, days)
    if report:
        print(f"\nreport: {report}")
    print("\nOpen the Dagster UI on http://127.0.0.1:3000 with `make ui`, or run")
    print(f"  DAGSTER_HOME={settings.dagster_home} dagster dev -h 127.0.0.1 -p 3000")
    print("from the repository root.  Ask the tables anything with")
    print('  edgestats sql "SELECT * FROM page_daily ORDER BY pageviews DESC LIMIT 20"')  # noqa: S608
    return 0


def write_demo_report(settings: Settings, days: DayRange):
    """The HTML report for the demo week, where the report module is installed."""
    try:
        from orchestration.report import write_report
    except ImportError:
        return None
    return write_report(settings, days.start, days.end)
