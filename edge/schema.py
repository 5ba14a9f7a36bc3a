"""The canonical event, schema version 1 (DESIGN section 2), defined once.

Every other part derives from `FIELDS`: the JSON Schema export, the Glue table
columns in infra, the DuckDB/Athena column lists in orchestration.  Nothing else
restates the field list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

try:  # optional: ~15x faster encoding; the output is byte-identical either way
    import orjson
except ImportError:  # pragma: no cover - e.g. a Lambda bundle without it
    orjson = None

SCHEMA_VERSION = 1

EVENT_TYPES = ("pageview", "custom")
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot", "other")
INGEST_DOORS = ("log-stream", "edge", "pixel", "beacon", "log-import", "simulator")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # logical type: "int", "string" or "bool"
    nullable: bool
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("schema_version", "int", False, "schema version, 1"),
    Field("event_id", "string", False, "unique per request; the dedup key"),
    Field("event_time", "string", False, "ISO-8601 UTC with milliseconds"),
    Field("event_type", "string", False, "pageview or custom"),
    Field("event_name", "string", True, "custom event name; null for pageviews"),
    Field("site", "string", False, "host the viewer asked for, lowercase, no port"),
    Field("path", "string", False, "normalised page path"),
    Field("referrer_host", "string", True, "referrer host without www.; null when none or self"),
    Field("utm_source", "string", True, "utm_source from the page URL"),
    Field("utm_medium", "string", True, "utm_medium from the page URL"),
    Field("utm_campaign", "string", True, "utm_campaign from the page URL"),
    Field("utm_term", "string", True, "utm_term from the page URL"),
    Field("utm_content", "string", True, "utm_content from the page URL"),
    Field("country", "string", True, "ISO 3166-1 alpha-2, upper case"),
    Field("region", "string", True, "CloudFront viewer region"),
    Field("city", "string", True, "CloudFront viewer city"),
    Field("timezone", "string", True, "CloudFront viewer time zone"),
    Field("device_type", "string", False, "desktop, mobile, tablet, bot or other"),
    Field("browser", "string", True, "browser family from the User-Agent"),
    Field("browser_version", "string", True, "browser major version"),
    Field("os", "string", True, "operating system family"),
    Field("os_version", "string", True, "operating system major version"),
    Field("is_bot", "bool", False, "crawler, spider, headless or monitoring client"),
    Field("visitor_id", "string", False, "16 hex chars of the daily-salted HMAC"),
    Field("ingest", "string", False, "which door the event came through"),
)

COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.nullable)

_JSON_TYPES = {"int": "integer", "string": "string", "bool": "boolean"}


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of one event line."""
    props: dict[str, dict] = {}
    for f in FIELDS:
        t = _JSON_TYPES[f.type]
        props[f.name] = {"type": [t, "null"] if f.nullable else t, "description": f.doc}
    props["schema_version"]["const"] = SCHEMA_VERSION
    props["event_type"]["enum"] = list(EVENT_TYPES)
    props["device_type"]["enum"] = list(DEVICE_TYPES)
    props["ingest"]["enum"] = list(INGEST_DOORS)
    props["visitor_id"]["pattern"] = "^[0-9a-f]{16}$"
    props["event_time"]["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://edgestats.dev/schema/event-v1.json",
        "title": "edgestats canonical event v1",
        "type": "object",
        "properties": props,
        "required": list(REQUIRED),
        "additionalProperties": False,
    }


def validate(event: dict) -> list[str]:
    """Problems with one event (empty when valid); cheap enough for tests and checks."""
    problems = []
    py_types = {"int": int, "string": str, "bool": bool}
    for f in FIELDS:
        if f.name not in event:
            problems.append(f"missing {f.name}")
            continue
        v = event[f.name]
        if v is None:
            if not f.nullable:
                problems.append(f"{f.name} is null")
            continue
        want = py_types[f.type]
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            problems.append(f"{f.name} is not {f.type}")
    extra = set(event) - set(COLUMNS)
    if extra:
        problems.append(f"unknown fields {sorted(extra)}")
    return problems


# orjson writes these raw (always inside JSON strings) where ensure_ascii escapes them.
_NOT_ASCII_JSON = re.compile("[\x7f-\U0010ffff]")


def _ascii_escape(m: re.Match) -> str:
    c = ord(m.group())
    if c < 0x10000:
        return f"\\u{c:04x}"
    c -= 0x10000  # astral: a UTF-16 surrogate pair, as json writes it
    return f"\\u{0xD800 | (c >> 10):04x}\\u{0xDC00 | (c & 0x3FF):04x}"


def encode(event: dict) -> bytes:
    """One NDJSON line, as the Firehose record carries it."""
    if orjson is not None:
        try:
            line = orjson.dumps(event)
        except TypeError:  # e.g. lone surrogates, huge ints: json handles these
            pass
        else:
            if line.isascii() and b"\x7f" not in line:
                return line + b"\n"
            return (_NOT_ASCII_JSON.sub(_ascii_escape, line.decode()) + "\n").encode("ascii")
    return (json.dumps(event, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


if __name__ == "__main__":  # pragma: no cover - `python -m edge.schema` prints the export
    print(json.dumps(json_schema(), indent=2))
