"""The daily job and its schedule: 01:15 UTC, for the day before."""


import dagster as dg

# Every asset and check of both domains, one partition (or range) per run.
daily_job = dg.define_asset_job(
    "edgestats_daily",
    selection=dg.AssetSelection.all(),
    description="raw_events -> events -> the eight summary tables, with their checks.",
)

# By 01:15 UTC the last Firehose buffers of the previous day (at most 15 minutes) have
# landed, so the previous day's partition is complete.
daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    hour_of_day=1,
    minute_of_hour=15,
    name="edgestats_daily_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
