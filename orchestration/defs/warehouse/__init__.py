"""Warehouse domain: clean events, the eight summary tables, checks, the daily schedule."""

import dagster as dg

from orchestration.defs.warehouse.assets import events, summary_assets
from orchestration.defs.warehouse.checks import events_one_row_per_event_id, summaries_add_up
from orchestration.defs.warehouse.schedules import daily_job, daily_schedule

defs = dg.Definitions(
    assets=[events, *summary_assets],
    asset_checks=[events_one_row_per_event_id, summaries_add_up],
    jobs=[daily_job],
    schedules=[daily_schedule],
)
