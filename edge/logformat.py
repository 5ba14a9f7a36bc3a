"""CloudFront standard access logs (legacy and v2) -> `Hit`, shared by both log doors.

`edgestats import-logs` reads W3C files; the Firehose transformation Lambda reads the
records standard logging (v2) delivers (JSON objects or W3C/plain lines).  Both map
fields BY NAME, never by position: a file's `#Fields:` header (or the delivery's
configured field list) says where each one is, because users pick fields and the list
has grown over the years.

CloudFront URL-encodes every log value (space is `%20`, `%` itself is `%25`, bytes >= 127
too), so values are percent-decoded exactly once here.  That yields the request as the
viewer sent it; the normaliser then does its own URL decoding of the path and query.
`-` means empty in every column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, unquote

from edge.normalize import Hit, Skip, page_hit_from_url

UTC = dt.timezone.utc
MIN_YEAR, MAX_YEAR = 2008, 2199  # plausible event years; CloudFront launched in 2008

# The 33 fields of a legacy standard log, in the order CloudFront writes them.
LEGACY_FIELDS: tuple[str, ...] = (
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)",
    "cs-uri-stem", "sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query",
    "cs(Cookie)", "x-edge-result-type", "x-edge-request-id", "x-host-header",
    "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol",
    "ssl-cipher", "x-edge-response-result-type", "cs-protocol-version", "fle-status",
    "fle-encrypted-fields", "c-port", "time-to-first-byte", "x-edge-detailed-result-type",
    "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
)

# Fields standard logging (v2) adds to the legacy ones.
V2_EXTRA_FIELDS: tuple[str, ...] = (
    "timestamp", "timestamp(ms)", "DistributionId", "c-country",
    "cache-behavior-path-pattern", "origin-fbl", "origin-lbl", "asn",
)

# What the log-stream delivery should select (CloudWatch Logs CreateDelivery
# recordFields): everything edgestats reads and nothing it does not (no cookies).
RECOMMENDED_STREAM_FIELDS: tuple[str, ...] = (
    "timestamp(ms)", "x-edge-request-id", "x-host-header", "cs(Host)", "cs-method",
    "cs-uri-stem", "cs-uri-query", "sc-status", "cs(Referer)", "cs(User-Agent)",
    "c-ip", "x-forwarded-for", "c-country",
)

# Other spellings of the same fields (real-time log names, column-safe names).
_ALIASES = {
    "cs-user-agent": "cs(user-agent)",
    "cs-referer": "cs(referer)",
    "cs-host": "cs(host)",
    "cs-cookie": "cs(cookie)",
    "timestamp-ms": "timestamp(ms)",
    "timestamp-(ms)": "timestamp(ms)",
}


def canonical_field(name: str) -> str:
    """One spelling per field: lower case, `-` for `_`, real-time names mapped."""
    n = name.strip().lower().replace("_", "-")
    return _ALIASES.get(n, n)


class Malformed(Exception):
    """A log line or record edgestats cannot read; `reason` is a short tag for counters."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _value(raw: object) -> str | None:
    """A raw log value as text, None for CloudFront's empty marker."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise Malformed("bad-value")
        raw = str(raw)
    if raw == "-" or raw == "":
        return None
    return raw


def _decoded(raw: str | None) -> str | None:
    """Undo CloudFront's log encoding once."""
    if raw is None or "%" not in raw:
        return raw
    return unquote(raw, errors="replace")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ms(text: str, per_second: int) -> int:
    """Integer milliseconds of an epoch number, without float rounding (`.123` stays 123)."""
    whole, _, frac = text.partition(".")
    if not whole.isascii() or not whole.lstrip("-").isdigit() or not (
        frac == "" or (frac.isascii() and frac.isdigit())
    ):
        raise ValueError(text)
    if per_second == 1000:
        return int(whole)
    return int(whole) * 1000 + int((frac + "000")[:3])


def _time_from(date: str | None, clock: str | None, ts: str | None,
               ts_ms: str | None) -> dt.datetime:
    """Event time from `timestamp(ms)`, `timestamp` (epoch seconds or ISO) or `date` + `time`."""
    try:
        if ts_ms is not None:
            return _EPOCH + dt.timedelta(milliseconds=_epoch_ms(ts_ms, 1000))
        if ts is not None:
            try:
                return _EPOCH + dt.timedelta(milliseconds=_epoch_ms(ts, 1))
            except ValueError:
                t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
                return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
        if date is not None and clock is not None and len(date) == 10:
            return dt.datetime.fromisoformat(f"{date}T{clock}").replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed("bad-time") from None
    raise Malformed("no-time")


def _status(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise Malformed("bad-status")
    return int(raw)


def _client_ip(c_ip: str | None, forwarded: str | None) -> str | None:
    """The connecting address; X-Forwarded-For only when c-ip is absent.

    X-Forwarded-For is whatever the client wrote, so preferring it would let one
    script mint a new visitor per request.  c-ip is what CloudFront saw, the same
    address the Lambda@Edge door hashes.
    """
    if c_ip is not None:
        return c_ip
    if forwarded is not None:
        first = _decoded(forwarded).split(",", 1)[0].strip()
        return first or None
    return None


def make_hit(
    *,
    date: str | None,
    clock: str | None,
    ts: str | None,
    ts_ms: str | None,
    c_ip: str | None,
    forwarded: str | None,
    method: str | None,
    host_header: str | None,
    cs_host: str | None,
    stem: str | None,
    status: str | None,
    referer: str | None,
    user_agent: str | None,
    query: str | None,
    request_id: str | None,
    country: str | None,
    fallback_id: str,
    ingest: str,
    pixel_path: str | None = None,
) -> Hit:
    """One log record's values (raw, `-` already None) -> `Hit`; raises Malformed or Skip."""
    time = _time_from(date, clock, ts, ts_ms)
    if not MIN_YEAR <= time.year <= MAX_YEAR:  # CloudFront did not exist; a corrupt value
        raise Malformed("bad-time")
    uri = _decoded(stem)
    if not uri:
        raise Malformed("no-uri")
    host = _decoded(host_header or cs_host)
    if not host:
        raise Malformed("no-host")
    code = _status(status)
    verb = (method or "GET").upper()
    headers = {"cloudfront-viewer-country": country} if country else {}
    hit = Hit(
        time=time,
        event_id=request_id or fallback_id,
        host=host,
        uri=uri,
        query=_decoded(query) or "",
        method=verb,
        status=code,
        referer=_decoded(referer),
        user_agent=_decoded(user_agent),
        client_ip=_client_ip(c_ip, forwarded),
        headers=headers,
        ingest=ingest,
    )
    if pixel_path and uri == pixel_path and verb == "GET":
        return _pixel_hit(hit)
    return hit


def _pixel_hit(hit: Hit) -> Hit:
    """The tracking pixel as the Lambda@Edge door reads it: page `u`, referrer `r`, event `n`.

    The log line carries the same CloudFront request id the edge door used as
    event_id, so an event seen by both doors still counts once.
    """
    if hit.status is not None and hit.status >= 400:
        raise Skip("status")
    fields: dict[str, str] = {}
    for k, v in parse_qsl(hit.query, keep_blank_values=True, errors="replace"):
        fields.setdefault(k, v)
    host, path, query = page_hit_from_url(fields.get("u", ""))
    hit.host, hit.uri, hit.query = host, path, query
    hit.referer = fields.get("r") or None
    hit.event_name = fields.get("n") or None
    hit.declared = True
    return hit


class W3CLayout:
    """Where each needed field sits in a line, from one `#Fields:` list."""

    __slots__ = ("fields", "width", "delimiter", "problem", "_at")

    NEEDED = ("date", "time", "timestamp", "timestamp(ms)", "c-ip", "x-forwarded-for",
              "cs-method", "x-host-header", "cs(host)", "cs-uri-stem", "sc-status",
              "cs(referer)", "cs(user-agent)", "cs-uri-query", "x-edge-request-id",
              "c-country")

    def __init__(self, fields: Sequence[str], delimiter: str = "\t"):
        self.fields = tuple(canonical_field(f) for f in fields)
        self.width = len(self.fields)
        self.delimiter = delimiter
        first: dict[str, int] = {}
        for i, name in enumerate(self.fields):
            first.setdefault(name, i)
        self._at = tuple(first.get(n) for n in self.NEEDED)
        missing = []
        if not ({"timestamp", "timestamp(ms)"} & first.keys()
                or {"date", "time"} <= first.keys()):
            missing.append("date+time or timestamp")
        if "cs-uri-stem" not in first:
            missing.append("cs-uri-stem")
        if not {"x-host-header", "cs(host)"} & first.keys():
            missing.append("x-host-header or cs(Host)")
        self.problem = f"#Fields lacks {', '.join(missing)}" if missing else None

    @classmethod
    def from_header(cls, line: str, delimiter: str = "\t") -> W3CLayout:
        """`#Fields: date time ...` (fields separated by spaces, as CloudFront writes them)."""
        return cls(line.split(":", 1)[1].split(), delimiter)

    def columns(self, line: str) -> list[str]:
        cols = line.split(self.delimiter)
        if len(cols) == self.width + 1 and cols[-1] == "":  # a stray trailing delimiter
            cols.pop()
        if len(cols) != self.width:
            raise Malformed("columns")
        return cols

    def hit(self, line: str, fallback_id: str, ingest: str,
            pixel_path: str | None = None) -> Hit:
        """One data line -> `Hit`; raises Malformed or Skip."""
        if self.problem:
            raise Malformed("fields")
        cols = self.columns(line)
        v = [None if i is None or cols[i] == "-" or cols[i] == "" else cols[i]
             for i in self._at]
        return make_hit(
            date=v[0], clock=v[1], ts=v[2], ts_ms=v[3], c_ip=v[4], forwarded=v[5],
            method=v[6], host_header=v[7], cs_host=v[8], stem=v[9], status=v[10],
            referer=v[11], user_agent=v[12], query=v[13], request_id=v[14], country=v[15],
            fallback_id=fallback_id, ingest=ingest, pixel_path=pixel_path,
        )


LEGACY_LAYOUT = W3CLayout(LEGACY_FIELDS)


def hit_from_record(record: Mapping[str, object], fallback_id: str, ingest: str,
                    pixel_path: str | None = None) -> Hit:
    """One JSON log record (v2 output format `json`) -> `Hit`; raises Malformed or Skip."""
    if not isinstance(record, Mapping):
        raise Malformed("not-object")
    raw_values: dict[str, object] = {}
    for k, raw in record.items():
        if isinstance(k, str):
            raw_values.setdefault(canonical_field(k), raw)
    values = {n: _value(raw_values.get(n)) for n in W3CLayout.NEEDED}
    get = values.get
    return make_hit(
        date=get("date"), clock=get("time"), ts=get("timestamp"), ts_ms=get("timestamp(ms)"),
        c_ip=get("c-ip"), forwarded=get("x-forwarded-for"), method=get("cs-method"),
        host_header=get("x-host-header"), cs_host=get("cs(host)"), stem=get("cs-uri-stem"),
        status=get("sc-status"), referer=get("cs(referer)"), user_agent=get("cs(user-agent)"),
        query=get("cs-uri-query"), request_id=get("x-edge-request-id"),
        country=get("c-country"), fallback_id=fallback_id, ingest=ingest,
        pixel_path=pixel_path,
    )
