"""Columns of every table, declared once in Athena types (DESIGN sections 2 and 6).

The raw and clean event columns derive from `edge.schema.FIELDS`; the summary tables'
columns are DESIGN 6's, in order.  Every table is partitioned by `dt` (string,
`YYYY-MM-DD`), which is not part of the columns listed here.  It lives beside the event
schema because both infra (Glue tables) and orchestration (SQL, both backends) build on
it and neither may import the other; no Lambda bundle imports it.
"""

from __future__ import annotations

from edge.schema import FIELDS

PARTITION_COLUMN = "dt"

# logical event field type -> Athena column type
ATHENA_TYPES = {"int": "int", "string": "string", "bool": "boolean"}
Columns = tuple[tuple[str, str], ...]

RAW_EVENT_COLUMNS: Columns = tuple((f.name, ATHENA_TYPES[f.type]) for f in FIELDS)

# what sessionising adds to each clean event
SESSION_COLUMNS: Columns = (
    ("event_ts", "timestamp"),  # event_time parsed, UTC
    ("session_id", "string"),  # <visitor_id>-<yyyymmdd>-<n>, unique within (site, day)
    ("is_session_start", "boolean"),  # the session's first event (its source comes from it)
    ("is_entry", "boolean"),  # the session's first page view
    ("is_exit", "boolean"),  # the session's last page view
)

SUMMARY_TABLES: dict[str, Columns] = {
    "site_daily": (
        ("site", "string"),
        ("pageviews", "bigint"),
        ("visitors", "bigint"),
        ("sessions", "bigint"),
        ("bounces", "bigint"),
        ("bounce_rate", "double"),
        ("avg_visit_duration_s", "double"),
        ("views_per_session", "double"),
    ),
    "page_daily": (
        ("site", "string"),
        ("path", "string"),
        ("pageviews", "bigint"),
        ("visitors", "bigint"),
        ("entries", "bigint"),
        ("exits", "bigint"),
    ),
    "source_daily": (
        ("site", "string"),
        ("source", "string"),
        ("utm_medium", "string"),
        ("utm_campaign", "string"),
        ("sessions", "bigint"),
        ("visitors", "bigint"),
        ("pageviews", "bigint"),
        ("bounces", "bigint"),
    ),
    "geo_daily": (
        ("site", "string"),
        ("country", "string"),
        ("region", "string"),
        ("city", "string"),
        ("visitors", "bigint"),
        ("pageviews", "bigint"),
    ),
    "tech_daily": (
        ("site", "string"),
        ("device_type", "string"),
        ("browser", "string"),
        ("os", "string"),
        ("visitors", "bigint"),
        ("pageviews", "bigint"),
    ),
    "site_hourly": (
        ("site", "string"),
        ("hour", "bigint"),
        ("pageviews", "bigint"),
        ("visitors", "bigint"),
    ),
    "event_daily": (
        ("site", "string"),
        ("event_name", "string"),
        ("events", "bigint"),
        ("visitors", "bigint"),
    ),
    "bot_daily": (
        ("site", "string"),
        ("browser", "string"),
        ("hits", "bigint"),
    ),
}

WAREHOUSE_TABLES: dict[str, Columns] = {
    "events": RAW_EVENT_COLUMNS + SESSION_COLUMNS,
    **SUMMARY_TABLES,
}

ALL_TABLES: dict[str, Columns] = {"raw_events": RAW_EVENT_COLUMNS, **WAREHOUSE_TABLES}


def column_names(table: str) -> tuple[str, ...]:
    return tuple(name for name, _ in ALL_TABLES[table])
