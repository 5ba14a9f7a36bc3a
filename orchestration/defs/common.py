"""Small pieces every domain's assets share: the day range of a run, the pool, metadata."""


import warnings
from collections.abc import Sequence

import dagster as dg

from orchestration.engine import (  # noqa: F401 - CRAWLER_POOL: the assets take it from here
    CRAWLER_POOL,
    MAX_PARTITIONS_PER_STATEMENT,
    DayRange,
    QueryResult,
    WriteResult,
)

# Backfill policies are beta and partitioned asset checks preview in Dagster 1.13; both
# are what the pipeline needs, and the warnings would print on every CLI run.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message=r".*partitions_def on an AssetCheckSpec.*",
                        category=dg.PreviewWarning)

# Two materialisations of the same day never interleave: the local backend takes a file
# lock per (table, day); the pool lets an instance also cap concurrent warehouse steps
# (`concurrency: pools:` in dagster.yaml).
WAREHOUSE_POOL = "edgestats_warehouse"


# A backfill runs as few runs as possible, each at most one statement's worth of days.
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_STATEMENT)


def run_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> DayRange:
    """The days this run covers (one partition, or a range for backfills)."""
    keys = context.partition_key_range
    return DayRange.of(keys.start, keys.end)


def sql_metadata(statements: list[str]) -> dg.MetadataValue:
    body = "\n\n".join(s.strip() for s in statements)
    return dg.MetadataValue.md(f"```sql\n{body}\n```")


def engine_metadata(writes: Sequence[WriteResult], queries: Sequence[QueryResult] = ()) -> dict:
    """What the engine reported about its statements (Athena and Trino: query ids, bytes
    scanned, engine time; Athena also their cost at list price); empty for an engine that
    reports none (the local backend)."""
    results = [*writes, *queries]
    ids = [i for w in writes for i in w.query_ids] + [q.query_id for q in queries if q.query_id]
    if not ids:
        return {}
    meta = {
        "query_ids": dg.MetadataValue.json(ids),
        "bytes_scanned": dg.MetadataValue.int(sum(r.bytes_scanned or 0 for r in results)),
        "engine_seconds": dg.MetadataValue.float(
            round(sum(r.engine_seconds or 0.0 for r in results), 3)),
    }
    if any(r.cost_usd is not None for r in results):
        meta["cost_usd"] = dg.MetadataValue.float(
            round(sum(r.cost_usd or 0.0 for r in results), 9))
    return meta
