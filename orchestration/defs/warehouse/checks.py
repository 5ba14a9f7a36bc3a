"""Checks on the warehouse: one row per event id, and summaries that add up."""


import dagster as dg

from orchestration import statements
from orchestration.defs.common import run_days
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource
from orchestration.defs.warehouse.assets import events, summary_assets

_summaries = {a.key.path[-1]: a for a in summary_assets}


@dg.asset_check(
    asset=events,
    partitions_def=daily_partitions,
    description="No two clean events of a day share an event_id (DESIGN 4).",
)
def events_one_row_per_event_id(
    context: dg.AssetCheckExecutionContext, engine: EngineResource
) -> dg.AssetCheckResult:
    sql = statements.render("check_events_unique", run_days(context))
    with engine.open() as eng:
        duplicates = eng.query(sql).rows[0][0] or 0
    return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_rows": duplicates})


@dg.asset_check(
    asset=_summaries["site_daily"],
    additional_deps=[a for name, a in _summaries.items() if name != "site_daily"],
    partitions_def=daily_partitions,
    description="Page views by page, source, hour, geography and technology, and sessions "
    "and bounces by source, sum to site_daily's totals for every site and day.",
)
def summaries_add_up(
    context: dg.AssetCheckExecutionContext, engine: EngineResource
) -> dg.AssetCheckResult:
    sql = statements.render("check_summaries_add_up", run_days(context))
    with engine.open() as eng:
        result = eng.query(sql)
    return dg.AssetCheckResult(
        passed=not result.rows,
        metadata={
            "disagreements": len(result.rows),
            "first": dg.MetadataValue.md(result.to_markdown(limit=10) if result.rows else "none"),
        },
    )
