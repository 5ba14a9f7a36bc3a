"""The Firehose data-transformation Lambda of the log-stream door (DESIGN 9.1).

CloudFront standard logging (v2) delivers access-log records to a Firehose stream;
Firehose hands them here in batches and writes back what this returns:

    in:  {"invocationId", "deliveryStreamArn", "region",
          "records": [{"recordId", "approximateArrivalTimestamp", "data": base64}]}
    out: {"records": [{"recordId", "result": "Ok" | "Dropped" | "ProcessingFailed",
                       "data": base64}]}

A record holds one or more log records: JSON objects (the delivery's `json` output
format, the one infra configures) or W3C/plain lines in the field order baked into
`EdgeConfig.log_fields` (a `#Fields:` line inside the record wins).  Each becomes a
canonical event (ingest `log-stream`) through the one normaliser:

* Ok: at least one event; `data` is their NDJSON lines.  Bots are kept as events
  (`is_bot` true): summaries leave them out but `bot_daily` counts them.
* Dropped: nothing but requests that are not page views (assets, errors, POSTs) or
  sites outside `EdgeConfig.allowed_sites`.
* Garbage (not base64, not UTF-8, no readable log record) is answered Dropped too,
  and counted as `garbage` in the log line.  Firehose would write a ProcessingFailed
  record's ORIGINAL bytes (raw IP and User-Agent included) under
  `errors/processing-failed/`, and raw IPs and User-Agents are never written to S3
  (DESIGN section 2), so that result is never used; `GARBAGE_RESULT` is the one place
  that decides it.

The handler never raises: a crash would make Firehose retry the whole batch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from functools import lru_cache

from edge.config import EdgeConfig
from edge.logformat import LEGACY_FIELDS, Malformed, W3CLayout, hit_from_record
from edge.normalize import Hit, Skip, normalise, normalise_site
from edge.salts import SaltStore
from edge.schema import encode

INGEST = "log-stream"
OK, DROPPED, FAILED = "Ok", "Dropped", "ProcessingFailed"
GARBAGE_RESULT = DROPPED  # never FAILED: see the module docstring

_salts: SaltStore | None = None
_config: EdgeConfig | None = None


def configure(salts: SaltStore | None = None, config: EdgeConfig | None = None) -> None:
    """Inject the salt store and config (tests; the SSM salt store of issue 4).

    Default salts are the SSM Parameter Store salts (`edge.ssm_salts`), so visitor ids
    agree across containers.
    """
    global _salts, _config
    _salts = salts
    _config = config


def _state() -> tuple[SaltStore, EdgeConfig]:
    global _salts, _config
    if _config is None:
        _config = EdgeConfig.load()
    if _salts is None:  # on Lambda: the daily salts in SSM, shared by every container
        from edge.ssm_salts import SsmSaltStore

        _salts = SsmSaltStore.from_config(_config)
    return _salts, _config


@lru_cache(maxsize=4)
def _configured_layouts(config: EdgeConfig) -> tuple[W3CLayout, W3CLayout]:
    """Tab-separated (`w3c`) and space-separated (`plain`) layouts of the baked field list."""
    fields = config.log_fields or LEGACY_FIELDS
    return W3CLayout(fields, "\t"), W3CLayout(fields, " ")


class _Reader:
    """Turns one record's text into hits, remembering the field layout it is told."""

    def __init__(self, config: EdgeConfig):
        self.tabbed, self.spaced = _configured_layouts(config)
        self.pixel_path = config.pixel_path

    def hits(self, text: str, record_id: str, counts: Counter) -> list[Hit]:
        """Hits of every log record in `text`; unreadable ones are counted as `bad`."""
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            try:
                whole = json.loads(stripped)
            except (ValueError, RecursionError):
                whole = None  # perhaps NDJSON: read line by line below
            if isinstance(whole, dict):
                return self._json_records([whole], record_id, counts)
            if isinstance(whole, list):
                return self._json_records(whole, record_id, counts)
        out: list[Hit] = []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            if line.startswith("#"):
                if line.startswith("#Fields:"):
                    self.tabbed = W3CLayout.from_header(line, "\t")
                    self.spaced = W3CLayout.from_header(line, " ")
                continue
            try:
                if line.lstrip().startswith("{"):
                    hit = hit_from_record(json.loads(line), f"{record_id}-{i}", INGEST,
                                          self.pixel_path)
                else:
                    layout = self.tabbed if "\t" in line else self.spaced
                    hit = layout.hit(line, f"{record_id}-{i}", INGEST, self.pixel_path)
            except Skip as s:
                counts[s.reason] += 1
                continue
            except (Malformed, ValueError, RecursionError):
                counts["bad"] += 1
                continue
            out.append(hit)
        return out

    def _json_records(self, items: list, record_id: str, counts: Counter) -> list[Hit]:
        out: list[Hit] = []
        for i, item in enumerate(items):
            try:
                out.append(hit_from_record(item, f"{record_id}-{i}", INGEST, self.pixel_path))
            except Skip as s:
                counts[s.reason] += 1
            except (Malformed, ValueError):
                counts["bad"] += 1
        return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def transform_record(record: dict, salts: SaltStore, config: EdgeConfig) -> dict:
    """One Firehose record -> its result entry."""
    record_id = record.get("recordId")
    original = record.get("data")
    original = original if isinstance(original, str) else ""

    def result(kind: str, data: str = original) -> dict:
        return {"recordId": record_id, "result": kind, "data": data}

    def garbage() -> dict:
        return {**result(GARBAGE_RESULT), "garbage": True}

    try:
        text = base64.b64decode(original, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return garbage()
    counts: Counter = Counter()
    hits = _Reader(config).hits(text, str(record_id), counts)
    allowed = {normalise_site(s) for s in config.allowed_sites}
    lines: list[bytes] = []
    for hit in hits:
        try:
            event = normalise(hit, salts)
        except Skip as s:
            counts[s.reason] += 1
            continue
        if allowed and event["site"] not in allowed:
            counts["site-not-allowed"] += 1
            continue
        lines.append(encode(event))
    if lines:
        return result(OK, _b64(b"".join(lines)))
    if counts["bad"] and sum(counts.values()) == counts["bad"]:
        return garbage()
    return result(DROPPED)


def handler(event, context=None) -> dict:
    """Firehose transformation entry point; never raises."""
    salts, config = _state()
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return {"records": []}
    out = []
    tally: Counter = Counter()
    for record in records:
        if not isinstance(record, dict):
            continue  # no recordId to answer for
        try:
            entry = transform_record(record, salts, config)
        except Exception:  # fail open: one bad record must not fail the batch
            data = record.get("data")
            entry = {"recordId": record.get("recordId"), "result": GARBAGE_RESULT,
                     "data": data if isinstance(data, str) else "", "garbage": True}
        if entry.pop("garbage", False):
            tally["garbage"] += 1
        tally[entry["result"]] += 1
        out.append(entry)
    # Counts only: never a Hit, an IP or a User-Agent.
    print(json.dumps({"edgestats": "transform", "records": len(out), **tally}))
    return {"records": out}
