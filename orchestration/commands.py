"""`edgestats materialize`, `edgestats sql` and `edgestats demo` (DESIGN 8).

`materialize` runs the `edgestats_daily` job through Dagster's own API against the
instance in `$EDGESTATS_HOME/dagster`, so its runs, materialisations and check results
are what `dagster dev` (`make ui`) shows afterwards.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import sqlglot
from sqlglot import exp

from edge.config import Settings, UsageError
from orchestration.backends import make_engine
from orchestration.engine import MAX_PARTITIONS_PER_STATEMENT, DayRange, QueryResult

JOB_NAME = "edgestats_daily"
DEMO_DAYS = 7
DEMO_PAGEVIEWS_PER_DAY = 4000
DEMO_SEED = 1
# the status lines say what happened; details and stack traces are in the run's log (UI)
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DAGSTER_YAML_HEADER = """\
# Dagster instance of edgestats: `edgestats materialize` writes runs here and
# `make ui` (dagster dev, DAGSTER_HOME=$EDGESTATS_HOME/dagster) reads them.
# Dagster's SQLite storages, kept open between writes (orchestration/dagster_storage.py).
# edgestats rewrites this file while its first line stays; delete that line to keep edits.
"""
STORAGE_MODULE = "orchestration.dagster_storage"


def dagster_yaml(home: Path) -> str:
    """dagster.yaml for the instance in `home`: Dagster's default layout and files."""
    import yaml

    config = {
        "telemetry": {"enabled": False},
        "run_storage": {"module": STORAGE_MODULE, "class": "PooledSqliteRunStorage",
                        "config": {"base_dir": str(home.resolve() / "history")}},
        "event_log_storage": {"module": STORAGE_MODULE, "class": "PooledSqliteEventLogStorage",
                              "config": {"base_dir": str(home.resolve() / "history" / "runs")}},
    }
    return DAGSTER_YAML_HEADER + yaml.safe_dump(config, sort_keys=False)


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
    from filelock import FileLock

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Two `edgestats materialize` started at once on a fresh home would both write
    # dagster.yaml and both run CREATE TABLE on the new SQLite storages ("table
    # bulk_actions already exists"); the first creates them under a lock, later ones
    # find them made.
    # A dagster.yaml edgestats wrote (an older one too, or one for a home since moved) is
    # rewritten; one whose first line was removed is the operator's.
    wanted = dagster_yaml(home)
    with FileLock(str(home / ".instance.lock"), timeout=120):
        current = config.read_text() if config.exists() else None
        if current != wanted and (current is None or current.startswith(DAGSTER_YAML_HEADER[:30])):
            tmp = config.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(wanted)
            tmp.replace(config)
        instance = DagsterInstance.from_config(str(home))
    return instance


@dataclass
class StepLine:
    name: str
    status: str  # ok | FAILED | skipped
    detail: str
    seconds: float | None = None

    def __str__(self) -> str:
        secs = f"{self.seconds:6.2f} s" if self.seconds is not None else ""
        return f"  {self.status:<8} {self.name:<40} {secs:>9}  {self.detail}".rstrip()


@dataclass
class CheckLine:
    """One asset check evaluation, as issue 5's command line prints it."""

    asset: str
    check: str
    partition: str
    passed: bool
    severity: str  # ERROR | WARN
    summary: str
    blocking: bool = False

    def __str__(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        return (f"CHECK {self.asset}/{self.check} {self.partition} {status} {self.severity} "
                f"{self.summary}").rstrip()

    @property
    def failed_error(self) -> bool:
        return not self.passed and self.severity == "ERROR"


@dataclass
class MaterializeOutcome:
    """What `materialize` did; true when every run succeeded and no day was blocked."""

    runs_ok: bool = True
    checks: list[CheckLine] = field(default_factory=list)
    blocked_days: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.runs_ok and not self.blocked_days

    @property
    def failed_errors(self) -> list[CheckLine]:
        return [c for c in self.checks if c.failed_error]


def _check_line(event, chunk: DayRange) -> CheckLine:
    ev = event.event_specific_data
    summary = ev.description or ", ".join(
        f"{k}={v.value}" for k, v in list(ev.metadata.items())[:3]
        if isinstance(v.value, (int, float, str)))
    return CheckLine(ev.asset_key.to_user_string(), ev.check_name, ev.partition or str(chunk),
                     ev.passed, ev.severity.value, " ".join(summary.split()), bool(ev.blocking))


def _blocked_days(checks: list[CheckLine], chunk: DayRange) -> list[str]:
    """Days of `chunk` that a failed blocking ERROR check stopped (a range-wide one: all)."""
    days: set[str] = set()
    for c in checks:
        if c.blocking and c.failed_error:
            days.update(chunk.keys if c.partition not in chunk.keys else [c.partition])
    return sorted(days)


def _only_blocked(result) -> bool:
    """True when every failed step failed because a blocking check failed, nothing else."""
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return bool(failures) and all(
        e.event_specific_data.error is not None
        and e.event_specific_data.error.cls_name == "DagsterAssetCheckFailedError"
        for e in failures)


def _ranges_without(chunk: DayRange, days: list[str]) -> list[DayRange]:
    """The runs of consecutive days of `chunk` that are not in `days`."""
    out: list[DayRange] = []
    for day in chunk:
        if day.isoformat() in days:
            continue
        if out and out[-1].end == day - dt.timedelta(days=1):
            out[-1] = DayRange(out[-1].start, day)
        else:
            out.append(DayRange(day, day))
    return out


def _run_lines(result, chunk: DayRange) -> list[StepLine | CheckLine]:
    """One line per asset step and check evaluation, in execution order."""
    lines: list[StepLine | CheckLine] = []
    blocked = _only_blocked(result)
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
            why = "a blocking ERROR check failed" if blocked else "an upstream step failed"
            lines.append(StepLine(event.step_key, "skipped", why))
        elif kind == "ASSET_CHECK_EVALUATION":
            lines.append(_check_line(event, chunk))
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


def materialize(settings: Settings, days: DayRange, out: TextIO | None = None, *,
                waive_blocking_checks: bool = False) -> MaterializeOutcome:
    """Run every asset and check for `days`, at most 100 days per run.

    A day that a blocking ERROR check stops gets no clean events and no summaries; when
    it shares a run with other days, those are run again without it (the raw checks
    already passed for them), so one bad day never holds back its neighbours.
    `waive_blocking_checks` records the same verdicts but lets every day through.
    """
    out = out or sys.stdout
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from orchestration.definitions import defs
    from orchestration.defs.quality import AFTER_CRAWL_JOB
    from orchestration.defs.quality.checks import WAIVE_TAG
    from orchestration.defs.resources import EngineResource

    instance = dagster_instance(settings)
    job = defs.resolve_job_def(JOB_NAME)
    engine = EngineResource.from_settings(settings)
    after_crawl = defs.resolve_job_def(AFTER_CRAWL_JOB)
    outcome = MaterializeOutcome()

    def run(chunk: DayRange, heading: str, job=job):
        started = time.perf_counter()
        tags = {ASSET_PARTITION_RANGE_START_TAG: chunk.start.isoformat(),
                ASSET_PARTITION_RANGE_END_TAG: chunk.end.isoformat()}
        if waive_blocking_checks:
            tags[WAIVE_TAG] = "true"
        result = job.execute_in_process(
            instance=instance, tags=tags, resources={"engine": engine},
            run_config=QUIET_RUN_CONFIG, raise_on_error=False,
        )
        print(f"{heading}, run {result.run_id[:8]}", file=out)
        lines = _run_lines(result, chunk)
        for line in lines:
            print(str(line), file=out)
        checks = [c for c in lines if isinstance(c, CheckLine)]
        outcome.checks.extend(checks)
        status = "succeeded" if result.success else "FAILED"
        print(f"  run {status} in {time.perf_counter() - started:.1f} s", file=out)
        return result, checks

    try:
        _materialize_chunks(days, run, after_crawl, outcome, out)
    finally:
        instance.dispose()  # closes the storages' connections: the last WAL pages reach the .db
    return outcome


def _materialize_chunks(days: DayRange, run, after_crawl, outcome: MaterializeOutcome,
                        out: TextIO) -> None:
    for chunk in days.chunks(MAX_PARTITIONS_PER_STATEMENT):
        plural = "s" if len(chunk) > 1 else ""
        result, checks = run(chunk, f"materialize {chunk} ({len(chunk)} day{plural})")
        blocked = _blocked_days(checks, chunk) if not result.success else []
        outcome.blocked_days.extend(blocked)
        if blocked and _only_blocked(result):
            print(f"  blocked: {', '.join(blocked)} (no clean events, no summaries)", file=out)
            for rest in _ranges_without(chunk, blocked):
                again, _ = run(rest, f"materialize {rest} again without the blocked day"
                               f"{'s' if len(blocked) > 1 else ''}", after_crawl)
                outcome.runs_ok = outcome.runs_ok and again.success
            if outcome.runs_ok:
                continue
            break
        outcome.runs_ok = outcome.runs_ok and result.success
        if not result.success:
            break


def materialize_cli(args, settings: Settings) -> int:
    """Exit 0 when every run succeeded and no ERROR check failed, else 1."""
    days = check_range(args.start, args.end, settings)
    outcome = materialize(settings, days,
                          waive_blocking_checks=getattr(args, "waive_blocking_checks", False))
    return 0 if outcome and not outcome.failed_errors else 1


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


SQL_FORMATS = ("table", "csv", "json")


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def format_result(result: QueryResult, fmt: str, out: TextIO) -> None:
    """A query's rows as a table for people, or as CSV or JSON for programs: CSV has a
    header row and empty fields for NULL; JSON is one array of objects."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    elif fmt == "json":
        json.dump([{c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
                   for row in result.rows], out, indent=1)
        out.write("\n")
    else:
        from tabulate import tabulate

        out.write(tabulate(result.rows, headers=result.columns, tablefmt="simple",
                           missingval="NULL", floatfmt=".4g", intfmt=",") + "\n")
        out.write(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})\n")


def sql_cli(args, settings: Settings) -> int:
    format_result(run_sql(settings, args.query), getattr(args, "format", "table"), sys.stdout)
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
