"""The pipeline's SQL: templates in `orchestration/sql/*.sql`, rendered safely.

A template is Athena (Trino) SQL with `{{name}}` placeholders.  Only two kinds of
value fill them: dates that passed a strict `YYYY-MM-DD` check, and fragments this
module builds from `edge.schema` (column lists, the validity test).  Nothing read
from an event is ever interpolated, and an unknown or missing placeholder is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

from edge.schema import COLUMNS, EVENT_TYPES, REQUIRED, SCHEMA_VERSION
from orchestration.engine import DayRange
from orchestration.tables import RAW_EVENT_COLUMNS, SUMMARY_TABLES

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ISO_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
_EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%i:%s.%fZ"  # date_parse format of event_time

SQL_DIR = Path(__file__).with_name("sql")
SUMMARY_STATEMENTS: tuple[str, ...] = tuple(SUMMARY_TABLES)
CHECK_STATEMENTS: tuple[str, ...] = ("check_events_unique", "check_summaries_add_up")
# the data-quality checks (orchestration.defs.quality); the first five read raw_events
RAW_QUALITY_STATEMENTS: tuple[str, ...] = (
    "check_schema_valid", "check_schema_valid_examples", "check_no_future_events",
    "check_duplicate_rate", "check_late_arrival_share",
)
QUALITY_STATEMENTS: tuple[str, ...] = (
    *RAW_QUALITY_STATEMENTS, "check_volume_anomaly", "check_bot_share", "check_geo_coverage",
)
# the definition of the raw_events view the Athena and Trino backends keep (not a pipeline step)
VIEW_STATEMENTS: tuple[str, ...] = ("raw_events",)
STATEMENTS: tuple[str, ...] = (
    "raw_events_profile", "events", *SUMMARY_STATEMENTS, *CHECK_STATEMENTS, *QUALITY_STATEMENTS
)


def identifier(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return name


def _quoted_list(values) -> str:
    out = []
    for v in values:
        if not _IDENTIFIER.match(v):  # event types are plain words; refuse anything else
            raise ValueError(f"{v!r} cannot be a SQL literal here")
        out.append(f"'{v}'")
    return ", ".join(out)


def _validity(prefix: str = "") -> str:
    """The test a raw row must pass to be an event: required fields present, known schema
    version and event type, ISO-8601 UTC time with milliseconds."""
    q = prefix
    required = " AND ".join(f"{q}{identifier(c)} IS NOT NULL" for c in REQUIRED)
    return (
        f"({required}"
        f" AND {q}schema_version = {int(SCHEMA_VERSION)}"
        f" AND {q}event_type IN ({_quoted_list(EVENT_TYPES)})"
        f" AND regexp_like({q}event_time, '{_ISO_TIME_PATTERN}'))"
    )


def _invalid_reason() -> str:
    """Why a raw row is not an event, naming the field, or NULL for a valid event.

    Fixed texts only, so metadata built from it can never carry a line's content.  It
    reads the required columns only, like `valid_event`."""
    everything_null = " AND ".join(f"{identifier(c)} IS NULL" for c in REQUIRED)
    whens = [f"WHEN {everything_null} THEN 'not JSON, or none of the required fields'"]
    whens += [f"WHEN {identifier(c)} IS NULL THEN '{c}: missing, null or wrong JSON type'"
              for c in REQUIRED]
    whens += [
        f"WHEN schema_version <> {int(SCHEMA_VERSION)} THEN 'schema_version: unknown version'",
        f"WHEN event_type NOT IN ({_quoted_list(EVENT_TYPES)}) THEN 'event_type: unknown type'",
        f"WHEN NOT regexp_like(event_time, '{_ISO_TIME_PATTERN}') "
        "THEN 'event_time: not ISO-8601 UTC with milliseconds'",
        f"WHEN try(date_parse(event_time, '{_EVENT_TIME_FORMAT}')) IS NULL "
        "THEN 'event_time: no such time'",
    ]
    return "(CASE " + " ".join(whens) + " END)"


def _typed_value(name: str, kind: str) -> str:
    """Column `name` from the parsed line `doc` (a map of JSON values), NULL unless its
    JSON type is the column's: strings stay strings, integers must be integer literals
    that fit, booleans must be true or false."""
    value = f"element_at(doc, '{identifier(name)}')"
    if kind == "string":
        return f"CASE WHEN json_format({value}) LIKE '\"%' THEN CAST({value} AS varchar) END"
    if kind == "boolean":
        return f"CASE json_format({value}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if kind == "int":
        return (f"CASE WHEN regexp_like(json_format({value}), '^-?[0-9]+$') "
                f"THEN try_cast(json_format({value}) AS integer) END")
    raise ValueError(f"no strict JSON reading for column type {kind!r}")


def schema_fragments() -> dict[str, str]:
    """SQL pieces derived from `edge.schema`, so no template restates the field list.

    `r_` variants qualify every column with the alias `r` (for joins)."""
    cols = [identifier(c) for c in COLUMNS]
    return {
        "event_columns": ", ".join(cols),
        "r_event_columns": ", ".join(f"r.{c}" for c in cols),
        "valid_event": _validity(),
        "r_valid_event": _validity("r."),
        "invalid_reason": _invalid_reason(),
        "typed_event_columns": ", ".join(
            f"{_typed_value(n, t)} AS {identifier(n)}" for n, t in RAW_EVENT_COLUMNS),
    }


@cache
def template(name: str) -> str:
    if name not in STATEMENTS and name not in VIEW_STATEMENTS:
        raise ValueError(f"no SQL statement named {name!r}")
    return (SQL_DIR / f"{name}.sql").read_text()


def view(name: str) -> str:
    """The SELECT of view `name` (no day placeholders: a view covers every partition)."""
    if name not in VIEW_STATEMENTS:
        raise ValueError(f"no view named {name!r}")
    return _fill(name, schema_fragments())


def render(name: str, days: DayRange) -> str:
    """Statement `name` for the inclusive day range `days`.

    Placeholders: start, end (the days), end_next (the day after), folder_end (the
    last landing folder to read: events of day D may land in folder D+1), plus the
    schema fragments.
    """
    if not isinstance(days, DayRange):
        raise TypeError("render takes a DayRange")
    one = dt.timedelta(days=1)
    values = {
        "start": days.start.isoformat(),
        "end": days.end.isoformat(),
        "end_next": (days.end + one).isoformat(),
        "folder_end": (days.end + one).isoformat(),
        **schema_fragments(),
    }
    return _fill(name, values)


def _fill(name: str, values: dict[str, str]) -> str:
    def fill(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"{name}.sql uses an unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(fill, template(name))


def preview(table: str, days: DayRange, limit: int = 10) -> str:
    """The top rows of a summary table for the UI: largest first measure, latest day first."""
    if table not in SUMMARY_TABLES:
        raise ValueError(f"{table!r} is not a summary table")
    columns = SUMMARY_TABLES[table]
    measure = next(n for n, t in columns if t == "bigint" and n != "hour")
    names = ", ".join(identifier(n) for n, _ in columns)
    keys = ", ".join(identifier(n) for n, t in columns if t == "string")
    return (
        f"SELECT {names}, dt FROM {identifier(table)} "  # noqa: S608 - validated identifiers
        f"WHERE dt BETWEEN '{days.start.isoformat()}' AND '{days.end.isoformat()}' "
        f"ORDER BY dt DESC, {identifier(measure)} DESC, {keys} LIMIT {int(limit)}"
    )
