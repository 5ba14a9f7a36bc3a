"""Clean events and the eight summary tables of DESIGN 6, one asset each."""


import datetime as dt
import time
from collections import defaultdict

import dagster as dg

from orchestration import statements
from orchestration.defs.common import (
    BACKFILL_POLICY,
    WAREHOUSE_POOL,
    engine_metadata,
    run_days,
    sql_metadata,
)
from orchestration.defs.landing.assets import raw_events
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource
from orchestration.engine import MAX_PARTITIONS_PER_STATEMENT, DayRange, Engine, WriteResult
from orchestration.tables import SUMMARY_TABLES

# Compressed landing bytes one `events` statement reads at most (about 600,000 events):
# sessionising sorts its rows, and past DuckDB's memory limit the sort spills to disk and
# slows down far more than linearly (30 days of 100,000 page views took 3x longer as one
# statement than in 5-day pieces).  A day bigger than this still runs alone.
EVENTS_BYTES_PER_STATEMENT = 32 * 1024 * 1024


def event_chunks(engine: Engine, days: DayRange,
                 max_bytes: int = EVENTS_BYTES_PER_STATEMENT) -> list[DayRange]:
    """`days` cut into ranges whose landing folders stay under `max_bytes`."""
    sizes: dict[str, int] = defaultdict(int)
    for obj in engine.landing_objects("events", days.extend(1)):
        sizes[obj.day] += obj.bytes
    chunks: list[DayRange] = []
    start, total = None, 0
    for day in days:
        size = sizes.get(day.isoformat(), 0)
        if start is not None and (total + size > max_bytes
                                  or (day - start).days >= MAX_PARTITIONS_PER_STATEMENT):
            chunks.append(DayRange(start, day - dt.timedelta(days=1)))
            start, total = None, 0
        if start is None:
            start = day
        total += size
    chunks.append(DayRange(start, days.end))
    return chunks


def _profile_counts(profile_rows: list[dict], days: DayRange) -> dict:
    """Bad lines, late arrivals and in-range candidates from `raw_events_profile` rows."""
    keys = set(days.keys)
    folder_rows: dict[str, int] = defaultdict(int)
    folder_malformed: dict[str, int] = defaultdict(int)
    candidates: dict[str, int] = defaultdict(int)
    late = 0
    for r in profile_rows:
        folder_rows[r["folder"]] += r["rows"]
        if r["day"] is None:
            folder_malformed[r["folder"]] += r["rows"]
            continue
        if r["day"] in keys:
            candidates[r["day"]] += r["rows"]
            if r["folder"] > r["day"]:
                late += r["rows"]
    return {
        "folder_rows": dict(folder_rows),
        "folder_malformed": dict(folder_malformed),
        "candidates": dict(candidates),
        "late": late,
    }


@dg.asset(
    deps=[raw_events],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
    group_name="warehouse",
    kinds={"parquet"},
    description=(
        "Clean events of day D (DESIGN 4): malformed lines skipped and counted, event_time "
        "in D (read from landing folders D and D+1), one row per event_id, sessionised per "
        "(site, visitor_id, day) with a 30-minute gap, entry/exit flags, bot flag kept.  "
        "Parquet under warehouse/events/dt=D/."
    ),
)
def events(context: dg.AssetExecutionContext, engine: EngineResource) -> dg.MaterializeResult:
    days = run_days(context)
    started = time.perf_counter()
    sqls: list[str] = []
    writes: list[WriteResult] = []
    folder_rows: dict[str, int] = defaultdict(int)
    folder_malformed: dict[str, int] = defaultdict(int)
    candidates: dict[str, int] = {}
    late = bytes_read = 0
    truncated: list[str] = []
    unreadable: list[str] = []
    profiles = []
    with engine.open() as eng:
        for chunk in event_chunks(eng, days):
            profile_sql = statements.render("raw_events_profile", chunk)
            events_sql = statements.render("events", chunk)
            with eng.raw_scan(chunk.extend(1)) as scan:
                profiles.append(eng.query(profile_sql))
                counts = _profile_counts(profiles[-1].records(), chunk)
                writes.append(eng.replace_partitions("events", chunk, events_sql))
            sqls = [profile_sql, events_sql]  # the last chunk's, as an example of what ran
            for k, v in counts["folder_rows"].items():
                folder_rows[k] += v
            for k, v in counts["folder_malformed"].items():
                folder_malformed[k] += v
            candidates.update(counts["candidates"])
            late += counts["late"]
            bytes_read += scan.bytes_read or 0
            truncated += scan.truncated_files
            unreadable += scan.unreadable_files
    rows_by_day = {d: n for w in writes for d, n in w.rows_by_day.items()}
    duplicates = sum(candidates.get(d, 0) - n for d, n in rows_by_day.items())
    for path in truncated:
        context.log.warning(f"truncated gzip salvaged up to the damage: {path}")
    for path in unreadable:
        context.log.warning(f"landing object skipped, nothing readable: {path}")
    for day in days.keys:  # what the crawl could not know without reading: rows per folder
        if day in folder_rows:
            context.log_event(
                dg.AssetObservation(
                    asset_key=raw_events.key,
                    partition=day,
                    metadata={
                        "rows": folder_rows[day],
                        "malformed_lines": folder_malformed.get(day, 0),
                    },
                )
            )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(rows_by_day.values()),
            "rows_by_day": dg.MetadataValue.json(rows_by_day),
            "raw_rows_read": sum(folder_rows.values()),
            "malformed_lines": sum(folder_malformed.values()),
            "late_arrivals": late,
            "duplicates_dropped": duplicates,
            "truncated_files": len(truncated),
            "unreadable_files": len(unreadable),
            "bytes_read": dg.MetadataValue.int(bytes_read),
            "bytes_written": dg.MetadataValue.int(sum(w.bytes_written for w in writes)),
            "duration_s": round(time.perf_counter() - started, 3),
            "sql": sql_metadata(sqls),
            **engine_metadata(writes, profiles),
        }
    )


def build_summary_asset(table: str) -> dg.AssetsDefinition:
    """One asset per summary table: its statement over `events`, a day range at a time."""
    columns = ", ".join(name for name, _ in SUMMARY_TABLES[table])

    @dg.asset(
        name=table,
        deps=[events],
        partitions_def=daily_partitions,
        backfill_policy=BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        group_name="warehouse",
        kinds={"parquet"},
        description=f"DESIGN 6 summary `{table}` ({columns}) per day, from clean events. "
        f"Parquet under warehouse/{table}/dt=D/.",
    )
    def summary(context: dg.AssetExecutionContext, engine: EngineResource) -> dg.MaterializeResult:
        days = run_days(context)
        started = time.perf_counter()
        writes, sql = [], ""
        with engine.open() as eng:
            for chunk in days.chunks():
                sql = statements.render(table, chunk)
                writes.append(eng.replace_partitions(table, chunk, sql))
            preview = eng.query(statements.preview(table, days))
            bytes_read = eng.stored_bytes("events", days)
        rows_by_day = {d: n for w in writes for d, n in w.rows_by_day.items()}
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(rows_by_day.values()),
                "rows_by_day": dg.MetadataValue.json(rows_by_day),
                "bytes_read": dg.MetadataValue.int(bytes_read),
                "bytes_written": dg.MetadataValue.int(sum(w.bytes_written for w in writes)),
                "duration_s": round(time.perf_counter() - started, 3),
                "sql": sql_metadata([sql]),
                "preview": dg.MetadataValue.md(preview.to_markdown() if preview.rows else "no rows"),
                **engine_metadata(writes, [preview]),
            }
        )

    return summary


summary_assets = [build_summary_asset(t) for t in SUMMARY_TABLES]
