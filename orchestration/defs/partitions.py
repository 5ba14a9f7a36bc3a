"""The one partitioning of every asset: UTC days, from `EDGESTATS_PARTITIONS_START`.

The start defaults to 2024-01-01 so history imported from old CloudFront logs can be
materialised; a day's partition exists once the day is over (DESIGN 4: a day is a UTC
calendar day of event_time).
"""


import dagster as dg

from edge.config import ConfigError, Settings
from orchestration.engine import parse_day


def partitions_start(settings: Settings | None = None) -> str:
    s = settings or Settings.from_env()
    try:
        return parse_day(s.partitions_start).isoformat()
    except ValueError:
        raise ConfigError(
            f"EDGESTATS_PARTITIONS_START={s.partitions_start!r} is not a date; use YYYY-MM-DD"
        ) from None


daily_partitions = dg.DailyPartitionsDefinition(start_date=partitions_start(), timezone="UTC")
