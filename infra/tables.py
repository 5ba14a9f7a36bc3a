"""Glue table definitions: `raw_events` from the edge schema, `events` and the summaries.

`raw_events` columns are derived from `edge.schema.FIELDS`, never restated.  The
warehouse tables are the pipeline's own declaration, `orchestration.tables`, whose SQL
writes them; the copy below (DESIGN section 6) is used only where that module is
absent, and a test keeps the two identical.
"""

from __future__ import annotations

from edge.schema import FIELDS

GLUE_TYPES = {"int": "int", "string": "string", "bool": "boolean"}
PARTITION_KEY = ("dt", "string")

RAW_EVENTS = "raw_events"
EVENTS = "events"

# Columns the clean `events` table adds to the schema fields (sessionisation, DESIGN 4).
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_ts", "timestamp"),
    ("session_id", "string"),
    ("is_session_start", "boolean"),
    ("is_entry", "boolean"),
    ("is_exit", "boolean"),
)

_COUNT = "bigint"
SUMMARIES: dict[str, tuple[tuple[str, str], ...]] = {
    "site_daily": (
        ("site", "string"), ("pageviews", _COUNT), ("visitors", _COUNT), ("sessions", _COUNT),
        ("bounces", _COUNT), ("bounce_rate", "double"), ("avg_visit_duration_s", "double"),
        ("views_per_session", "double"),
    ),
    "page_daily": (
        ("site", "string"), ("path", "string"), ("pageviews", _COUNT), ("visitors", _COUNT),
        ("entries", _COUNT), ("exits", _COUNT),
    ),
    "source_daily": (
        ("site", "string"), ("source", "string"), ("utm_medium", "string"),
        ("utm_campaign", "string"), ("sessions", _COUNT), ("visitors", _COUNT),
        ("pageviews", _COUNT), ("bounces", _COUNT),
    ),
    "geo_daily": (
        ("site", "string"), ("country", "string"), ("region", "string"), ("city", "string"),
        ("visitors", _COUNT), ("pageviews", _COUNT),
    ),
    "tech_daily": (
        ("site", "string"), ("device_type", "string"), ("browser", "string"), ("os", "string"),
        ("visitors", _COUNT), ("pageviews", _COUNT),
    ),
    "site_hourly": (
        ("site", "string"), ("hour", _COUNT), ("pageviews", _COUNT), ("visitors", _COUNT),
    ),
    "event_daily": (
        ("site", "string"), ("event_name", "string"), ("events", _COUNT), ("visitors", _COUNT),
    ),
    "bot_daily": (("site", "string"), ("browser", "string"), ("hits", _COUNT)),
}


def raw_event_columns() -> tuple[tuple[str, str], ...]:
    return tuple((f.name, GLUE_TYPES[f.type]) for f in FIELDS)


def own_warehouse_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    return {EVENTS: raw_event_columns() + SESSION_COLUMNS, **SUMMARIES}


def warehouse_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    """Every Parquet table in the warehouse bucket, each partitioned by `dt`."""
    try:
        from orchestration.tables import WAREHOUSE_TABLES
    except ImportError:
        return own_warehouse_tables()
    return dict(WAREHOUSE_TABLES)
