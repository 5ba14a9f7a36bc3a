"""Issue 5's data-quality checks: can the numbers of a day be trusted?

Nine checks, each evaluated per daily partition with counts, rates and examples as
metadata.  The counting is SQL in the pipeline's engine (`orchestration/sql/check_*.sql`,
Athena dialect, both backends) or a listing of the landing zone; Python only compares
the counts with the thresholds below.  Two ops run them:

- `raw_events_quality`, after the crawl: one read of the landing zone for all raw-level
  checks.  `schema_valid` and `no_future_events` are blocking ERROR checks: when one
  fails, `events` and so the summary tables of that run are not materialised.
- `events_quality`, after the clean events: WARN checks that never block.

Each op yields one evaluation per day of its run, so a backfill range still records
every day separately in the UI.  A run tagged `edgestats/waive_blocking_checks=true`
records the same verdicts but lets a failing day through (an operator who inspected
it); the failures stay ERRORs.
"""


import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,  # not re-exported
)

from edge.schema import REQUIRED
from orchestration import statements
from orchestration.defs.common import run_days
from orchestration.defs.landing.assets import raw_events
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource
from orchestration.defs.warehouse.assets import events
from orchestration.engine import DayRange, Engine, LandingObject, RawScan

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
WAIVE_TAG = "edgestats/waive_blocking_checks"

# The thresholds of issue 5's table; a check fails when its share is strictly above.
MAX_BAD_LINE_SHARE = 0.001
FUTURE_TOLERANCE_S = 300
FIREHOSE_MAX_BUFFER_S = 900  # check_no_future_events.sql allows both: 1200 s after the name
MAX_DUPLICATE_SHARE = 0.01
MAX_LATE_SHARE = 0.05
VOLUME_LOW, VOLUME_HIGH = 0.3, 3.0
VOLUME_HISTORY_DAYS = 7
MIN_HISTORY_DAYS = 3
MAX_BOT_SHARE = 0.40
MAX_NO_COUNTRY_SHARE = 0.20
FRESHNESS_DEADLINE = dt.time(2, 0)  # UTC, the day after the partition
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Rule:
    """One row of issue 5's table."""

    name: str
    asset: dg.AssetKey
    severity: dg.AssetCheckSeverity
    blocking: bool
    description: str


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("schema_valid", raw_events.key, ERROR, True,
         "More than 0.1% of the day's landing lines are not events: not JSON, not an object, "
         "or a required field missing, of the wrong type or invalid (a truncated or "
         "unreadable object counts as one bad line).  Blocks the day's clean events and "
         "summaries.  Examples name the object and the field, never a line's content."),
    Rule("no_future_events", raw_events.key, ERROR, True,
         "An event_time is later than its landing object's arrival plus 5 minutes: a clock or "
         "time zone bug upstream.  The arrival comes from the Firehose object name "
         "(<stream>-<n>-YYYY-MM-DD-HH-MM-SS-<uuid>), which is the arrival of the object's "
         "oldest record; Firehose buffers at most 900 s, so the limit is that time + 900 s "
         "+ 300 s.  Blocks the day's clean events and summaries."),
    Rule("firehose_errors", raw_events.key, ERROR, False,
         "Firehose wrote objects under errors/<error-type>/dt=D/: records it could not "
         "deliver or transform are missing from the day.  Only listed, never read."),
    Rule("duplicate_rate", raw_events.key, WARN, False,
         "More than 1% of the day's valid raw events repeat an event_id (producer retries); "
         "they count once in every table."),
    Rule("freshness", raw_events.key, WARN, False,
         "Landing folder events/dt=D/ has no object by 02:00 UTC on D+1: the edge, Firehose "
         "or the log delivery stopped.  Also evaluated by the sensor "
         "`raw_events_freshness_sensor` after the deadline."),
    Rule("late_arrival_share", events.key, WARN, False,
         "More than 5% of day D's events landed in folder D+1 (Firehose folders are by "
         "arrival): a delayed delivery; the pipeline still counts them for D."),
    Rule("volume_anomaly", events.key, WARN, False,
         "Non-bot page views outside 0.3x-3x of the median of the 7 days before (over the "
         "days of those with clean events); no verdict with fewer than 3 such days."),
    Rule("bot_share", events.key, WARN, False,
         "More than 40% of the day's clean events come from bots (crawlers, headless or "
         "monitoring clients); they are excluded from every summary but bot_daily."),
    Rule("geo_coverage", events.key, WARN, False,
         "More than 20% of the day's clean events have no country.  The usual cause: the "
         "CloudFront origin request policy does not forward the CloudFront-Viewer-Country "
         "header (nor -Country-Region, -City, -Time-Zone) to the edge function."),
)}

RAW_CHECKS = tuple(n for n, r in RULES.items() if r.asset == raw_events.key)
EVENTS_CHECKS = tuple(n for n, r in RULES.items() if r.asset == events.key)
_SCANNED_RAW_CHECKS = {"schema_valid", "no_future_events", "duplicate_rate"}
# what the raw check statements read: the validity test needs the required fields only
# (event_id and event_time among them); `dt` and `object_path` come with every scan
RAW_CHECK_COLUMNS = REQUIRED


def _spec(rule: Rule) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        rule.name, asset=rule.asset, blocking=rule.blocking, description=rule.description,
        partitions_def=daily_partitions, metadata={"severity": rule.severity.value},
    )


@dataclass(frozen=True)
class Verdict:
    """One check's result for one day."""

    check: str
    day: str
    passed: bool
    summary: str  # one line, what the command line prints
    metadata: dict = field(default_factory=dict)

    @property
    def rule(self) -> Rule:
        return RULES[self.check]


# ---------------------------------------------------------------- formatting


def pct(share: float) -> str:
    return f"{share * 100:.3g}%"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _folder_of(scan_entry: str) -> tuple[str, str]:
    """`dt=D/<name>` (how RawScan names an object) -> (D, name)."""
    folder, _, name = scan_entry.partition("/")
    return folder.removeprefix("dt="), name


# ---------------------------------------------------------------- judgements (pure)


def judge_schema_valid(day: str, row: dict | None, examples: list[dict],
                       scan: RawScan | None = None) -> Verdict:
    lines = row["lines"] if row else 0
    malformed = row["bad_lines"] if row else 0
    truncated = [n for d, n in map(_folder_of, scan.truncated_files if scan else []) if d == day]
    unreadable = [n for d, n in map(_folder_of, scan.unreadable_files if scan else []) if d == day]
    damaged = len(truncated) + len(unreadable)
    bad, total = malformed + damaged, lines + damaged
    share = _share(bad, total)
    shown = [{"object": n, "reason": "truncated gzip: the lines after the damage are lost",
              "lines": 1} for n in truncated]
    shown += [{"object": n, "reason": "not a readable gzip object", "lines": 1}
              for n in unreadable]
    shown += [{"object": e["object"], "reason": e["reason"], "lines": e["lines"]}
              for e in examples]
    passed = share <= MAX_BAD_LINE_SHARE
    parts = [f"{malformed:,} malformed line{'s' if malformed != 1 else ''}"]
    if truncated:
        parts.append(f"{len(truncated)} truncated object{'s' if len(truncated) > 1 else ''}")
    if unreadable:
        parts.append(f"{len(unreadable)} unreadable object{'s' if len(unreadable) > 1 else ''}")
    summary = (f"{' + '.join(parts)} of {total:,} lines: {pct(share)} "
               f"{'<=' if passed else '>'} {pct(MAX_BAD_LINE_SHARE)}")
    return Verdict("schema_valid", day, passed, summary, {
        "lines": total, "bad_lines": bad, "malformed_lines": malformed,
        "truncated_objects": len(truncated), "unreadable_objects": len(unreadable),
        "bad_line_share": share, "threshold": MAX_BAD_LINE_SHARE,
        "examples": dg.MetadataValue.json(shown[:MAX_EXAMPLES]),
    })


def judge_no_future_events(day: str, row: dict | None) -> Verdict:
    row = row or {}
    events_n = row.get("events") or 0
    future = row.get("future_events") or 0
    unknown = row.get("unknown_arrival_events") or 0
    lead = row.get("max_seconds_after_name")
    limit = FIREHOSE_MAX_BUFFER_S + FUTURE_TOLERANCE_S
    if future:
        summary = (f"{future:,} of {events_n:,} events later than their object's arrival + 5 min "
                   f"(up to {_duration(lead)} after its name's time) in "
                   f"{row['future_objects']} object(s), e.g. {row['example_object']}")
    else:
        summary = f"no event after its object's arrival + 5 min ({events_n:,} events)"
    if unknown:
        summary += f"; {unknown:,} in objects without a Firehose name, not judged"
    return Verdict("no_future_events", day, future == 0, summary, {
        "events": events_n, "future_events": future, "unknown_arrival_events": unknown,
        "future_objects": row.get("future_objects") or 0,
        "example_object": row.get("example_object") or "",
        "max_seconds_after_object_name": lead if lead is not None else "",
        "limit_seconds_after_object_name": limit,
    })


def judge_firehose_errors(day: str, objects: list[LandingObject]) -> Verdict:
    types = Counter(o.key.split("/")[1] for o in objects)
    size = sum(o.bytes for o in objects)
    if objects:
        summary = (f"{len(objects):,} object(s), {size:,} bytes under "
                   + ", ".join(f"errors/{t}/dt={day}/ ({n})" for t, n in sorted(types.items())))
    else:
        summary = f"no object under errors/*/dt={day}/"
    return Verdict("firehose_errors", day, not objects, summary, {
        "objects": len(objects), "bytes": dg.MetadataValue.int(size),
        "error_types": dg.MetadataValue.json(dict(sorted(types.items()))),
        "examples": dg.MetadataValue.json([o.key for o in objects[:MAX_EXAMPLES]]),
    })


def judge_duplicate_rate(day: str, row: dict | None) -> Verdict:
    row = row or {}
    events_n = row.get("events") or 0
    duplicates = events_n - (row.get("distinct_event_ids") or 0)
    share = _share(duplicates, events_n)
    passed = share <= MAX_DUPLICATE_SHARE
    summary = (f"{duplicates:,} of {events_n:,} valid events repeat an event_id: {pct(share)} "
               f"{'<=' if passed else '>'} {pct(MAX_DUPLICATE_SHARE)}")
    return Verdict("duplicate_rate", day, passed, summary, {
        "events": events_n, "duplicates": duplicates, "duplicate_share": share,
        "repeated_event_ids": row.get("repeated_event_ids") or 0,
        "max_copies": row.get("max_copies") or 0,
        "example_event_id": row.get("example_event_id") or "",
        "threshold": MAX_DUPLICATE_SHARE,
    })


def freshness_deadline(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1),
                               FRESHNESS_DEADLINE, tzinfo=dt.timezone.utc)


def judge_freshness(day: str, objects: list[LandingObject], now: dt.datetime) -> Verdict:
    deadline = freshness_deadline(day)
    size = sum(o.bytes for o in objects)
    if objects:
        passed, summary = True, f"{len(objects):,} landing object(s), {size:,} bytes"
    elif now < deadline:
        passed, summary = True, f"no landing data yet; due by {deadline:%Y-%m-%d %H:%M} UTC"
    else:
        passed, summary = False, (f"no landing data under events/dt={day}/ by "
                                  f"{deadline:%Y-%m-%d %H:%M} UTC")
    return Verdict("freshness", day, passed, summary, {
        "objects": len(objects), "bytes": dg.MetadataValue.int(size),
        "deadline": deadline.isoformat(), "checked_at": now.isoformat(timespec="seconds"),
    })


def judge_late_arrival_share(day: str, row: dict | None) -> Verdict:
    row = row or {}
    events_n, late = row.get("events") or 0, row.get("late_events") or 0
    share = _share(late, events_n)
    passed = share <= MAX_LATE_SHARE
    summary = (f"{late:,} of {events_n:,} events of the day landed in a later folder: "
               f"{pct(share)} {'<=' if passed else '>'} {pct(MAX_LATE_SHARE)}")
    return Verdict("late_arrival_share", day, passed, summary, {
        "events": events_n, "late_events": late, "late_share": share,
        "threshold": MAX_LATE_SHARE,
    })


def judge_volume_anomaly(day: str, row: dict | None) -> Verdict:
    row = row or {}
    pageviews = row.get("pageviews") or 0
    history_days = row.get("history_days") or 0
    median = row.get("median_pageviews")
    meta = {"pageviews": pageviews, "history_days": history_days,
            "median_pageviews": median if median is not None else "",
            "history": row.get("history") or "",
            "low": VOLUME_LOW, "high": VOLUME_HIGH}
    if history_days < MIN_HISTORY_DAYS:
        reason = (f"skipped: {history_days} day(s) with clean events among the "
                  f"{VOLUME_HISTORY_DAYS} before, fewer than {MIN_HISTORY_DAYS}")
        return Verdict("volume_anomaly", day, True, f"{pageviews:,} page views; {reason}",
                       {**meta, "skipped": reason})
    if median == 0:
        ratio = 1.0 if pageviews == 0 else float("inf")
    else:
        ratio = pageviews / median
    passed = VOLUME_LOW <= ratio <= VOLUME_HIGH
    summary = (f"{pageviews:,} page views = {ratio:.2f}x the {history_days}-day median "
               f"{median:,.1f} ({'within' if passed else 'outside'} "
               f"{VOLUME_LOW}x-{VOLUME_HIGH:g}x)")
    return Verdict("volume_anomaly", day, passed, summary, {**meta, "ratio": ratio})


def judge_bot_share(day: str, row: dict | None) -> Verdict:
    row = row or {}
    events_n, bots = row.get("events") or 0, row.get("bot_events") or 0
    share = _share(bots, events_n)
    passed = share <= MAX_BOT_SHARE
    summary = (f"{bots:,} of {events_n:,} clean events from bots: {pct(share)} "
               f"{'<=' if passed else '>'} {pct(MAX_BOT_SHARE)}")
    return Verdict("bot_share", day, passed, summary, {
        "events": events_n, "bot_events": bots, "bot_share": share, "threshold": MAX_BOT_SHARE,
    })


def judge_geo_coverage(day: str, row: dict | None) -> Verdict:
    row = row or {}
    events_n, missing = row.get("events") or 0, row.get("events_without_country") or 0
    share = _share(missing, events_n)
    passed = share <= MAX_NO_COUNTRY_SHARE
    summary = (f"{missing:,} of {events_n:,} clean events without country: {pct(share)} "
               f"{'<=' if passed else '>'} {pct(MAX_NO_COUNTRY_SHARE)}")
    if not passed:
        summary += "; does the origin request policy forward CloudFront-Viewer-Country?"
    return Verdict("geo_coverage", day, passed, summary, {
        "events": events_n, "events_without_country": missing, "no_country_share": share,
        "by_ingest": row.get("doors_without_country") or "", "threshold": MAX_NO_COUNTRY_SHARE,
    })


# ---------------------------------------------------------------- evaluation


def _by_day(eng: Engine, name: str, days: DayRange) -> dict[str, dict]:
    return {r["day"]: r for r in eng.query(statements.render(name, days)).records()}


def _objects_by_day(eng: Engine, area: str, days: DayRange) -> dict[str, list[LandingObject]]:
    found: dict[str, list[LandingObject]] = defaultdict(list)
    for obj in eng.landing_objects(area, days):
        found[obj.day].append(obj)
    return found


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def raw_verdicts(eng: Engine, days: DayRange, wanted: set[str],
                 now: dt.datetime | None = None) -> list[Verdict]:
    """The raw_events checks in `wanted` for `days`: one read of landing folders
    `days`..end+1 (duplicates are counted by event day, like `events` counts them)."""
    out: list[Verdict] = []
    if wanted & _SCANNED_RAW_CHECKS:
        with eng.raw_scan(days.extend(1), RAW_CHECK_COLUMNS) as scan:
            if "schema_valid" in wanted:
                lines = _by_day(eng, "check_schema_valid", days)
                examples: dict[str, list[dict]] = defaultdict(list)
                for r in eng.query(statements.render("check_schema_valid_examples",
                                                     days)).records():
                    examples[r["day"]].append(r)
                out += [judge_schema_valid(d, lines.get(d), examples[d], scan) for d in days.keys]
            if "no_future_events" in wanted:
                future = _by_day(eng, "check_no_future_events", days)
                out += [judge_no_future_events(d, future.get(d)) for d in days.keys]
            if "duplicate_rate" in wanted:
                dupes = _by_day(eng, "check_duplicate_rate", days)
                out += [judge_duplicate_rate(d, dupes.get(d)) for d in days.keys]
    if "firehose_errors" in wanted:
        errors = _objects_by_day(eng, "errors", days)
        out += [judge_firehose_errors(d, errors[d]) for d in days.keys]
    if "freshness" in wanted:
        landed = _objects_by_day(eng, "events", days)
        moment = now or utc_now()
        out += [judge_freshness(d, landed[d], moment) for d in days.keys]
    return out


_EVENTS_JUDGES: dict[str, tuple[str, Callable[[str, dict | None], Verdict]]] = {
    "volume_anomaly": ("check_volume_anomaly", judge_volume_anomaly),
    "bot_share": ("check_bot_share", judge_bot_share),
    "geo_coverage": ("check_geo_coverage", judge_geo_coverage),
}


def events_verdicts(eng: Engine, days: DayRange, wanted: set[str]) -> list[Verdict]:
    """The events checks in `wanted` for `days`; only late arrivals read the landing zone."""
    out: list[Verdict] = []
    if "late_arrival_share" in wanted:
        with eng.raw_scan(days.extend(1), RAW_CHECK_COLUMNS):
            late = _by_day(eng, "check_late_arrival_share", days)
        out += [judge_late_arrival_share(d, late.get(d)) for d in days.keys]
    for name, (statement, judge) in _EVENTS_JUDGES.items():
        if name in wanted:
            rows = _by_day(eng, statement, days)
            out += [judge(d, rows.get(d)) for d in days.keys]
    return out


def latest_materialization(instance: dg.DagsterInstance, asset: dg.AssetKey,
                           day: str) -> TargetMaterialization | None:
    """The materialisation of `asset`'s partition `day` that a check of it judges.

    Dagster shows a partition's check status only while the evaluation targets the
    partition's latest materialisation; it fills this in itself for single-partition runs
    only, and these evaluations are per day of any range."""
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[day]), limit=1).records
    if not found:
        return None
    return TargetMaterialization(storage_id=found[0].storage_id, run_id=found[0].run_id,
                                 timestamp=found[0].timestamp)


def evaluation(verdict: Verdict, waived: bool = False,
               target: TargetMaterialization | None = None) -> dg.AssetCheckEvaluation:
    rule = verdict.rule
    metadata = dict(verdict.metadata)
    if waived and rule.blocking:
        metadata["waived"] = True
    return dg.AssetCheckEvaluation(
        asset_key=rule.asset, check_name=rule.name, passed=verdict.passed,
        metadata=metadata, severity=rule.severity, description=verdict.summary,
        blocking=rule.blocking and not waived, partition=verdict.day,
        target_materialization_data=target,
    )


def _emit(context: dg.AssetCheckExecutionContext, specs: list[dg.AssetCheckSpec],
          verdicts: list[Verdict]) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """One evaluation per check and day, then each selected check's (empty) output, which
    is what downstream steps wait for."""
    waived = str(context.run.tags.get(WAIVE_TAG, "")).lower() == "true"
    targets: dict[tuple[dg.AssetKey, str], TargetMaterialization | None] = {}
    for verdict in verdicts:
        where = (verdict.rule.asset, verdict.day)
        if where not in targets:
            targets[where] = latest_materialization(context.instance, *where)
        yield evaluation(verdict, waived, targets[where])
    for spec in specs:
        if spec.key in context.selected_asset_check_keys:
            yield dg.Output(None, output_name=spec.get_python_identifier())


RAW_SPECS = [_spec(RULES[n]) for n in RAW_CHECKS]
EVENTS_SPECS = [_spec(RULES[n]) for n in EVENTS_CHECKS]


@dg.multi_asset_check(
    name="raw_events_quality",
    specs=RAW_SPECS,
    can_subset=True,
    description="Issue 5's checks on the landing zone of each day (one read for all of them).",
)
def raw_events_quality(context: dg.AssetCheckExecutionContext, engine: EngineResource):
    days = run_days(context)
    wanted = {k.name for k in context.selected_asset_check_keys}
    with engine.open() as eng:
        verdicts = raw_verdicts(eng, days, wanted)
    yield from _emit(context, RAW_SPECS, verdicts)


@dg.multi_asset_check(
    name="events_quality",
    specs=EVENTS_SPECS,
    can_subset=True,
    description="Issue 5's checks on the clean events of each day; warnings, never blocking.",
)
def events_quality(context: dg.AssetCheckExecutionContext, engine: EngineResource):
    days = run_days(context)
    wanted = {k.name for k in context.selected_asset_check_keys}
    with engine.open() as eng:
        verdicts = events_verdicts(eng, days, wanted)
    yield from _emit(context, EVENTS_SPECS, verdicts)
