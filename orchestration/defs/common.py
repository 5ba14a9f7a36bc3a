"""Small pieces every domain's assets share: the day range of a run, the pool, metadata."""


import warnings

import dagster as dg

from orchestration.engine import MAX_PARTITIONS_PER_STATEMENT, DayRange

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
