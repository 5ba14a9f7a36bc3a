"""Glue table names and columns: all from `edge.tables`, the one declaration.

`raw_events` columns derive from `edge.schema.FIELDS`; the warehouse tables (`events`
and the eight summaries of DESIGN section 6) are the ones the pipeline's SQL writes.
"""

from __future__ import annotations

from edge.tables import PARTITION_COLUMN, RAW_EVENT_COLUMNS, WAREHOUSE_TABLES, Columns

PARTITION_KEY = (PARTITION_COLUMN, "string")

RAW_EVENTS = "raw_events"
EVENTS = "events"


def raw_event_columns() -> Columns:
    return RAW_EVENT_COLUMNS


def warehouse_tables() -> dict[str, Columns]:
    """Every Parquet table in the warehouse bucket, each partitioned by `dt`."""
    return dict(WAREHOUSE_TABLES)
