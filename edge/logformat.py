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
from functools import lru_cache
from operator import itemgetter
from urllib.parse import parse_qsl, unquote

# The page-view rule through the normaliser's memoised twins (same results): most log
# lines are assets whose paths repeat, and normalise() then finds the path cached.
from edge.normalize import Hit, Skip, page_hit_from_url
from edge.normalize import _cached_page_view_rule as _page_view_rule
from edge.normalize import _cached_path as _normalise_path

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


def _value(raw: object) -> str:
    """A JSON log value as the text a W3C column would hold (`-` when empty)."""
    if raw is None:
        return "-"
    if not isinstance(raw, str):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise Malformed("bad-value")
        raw = str(raw)
    return raw or "-"


def _decoded(raw: str) -> str:
    """Undo CloudFront's log encoding once."""
    if "%" not in raw:
        return raw
    return unquote(raw, errors="replace")


@lru_cache(maxsize=16384)
def _decoded_user_agent(raw: str) -> str:
    """Cached: real traffic repeats a few thousand UAs (held in memory only, like useragent's)."""
    return _decoded(raw)


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


def _time_from(ts: str, ts_ms: str) -> dt.datetime:
    """Event time from `timestamp(ms)` or `timestamp` (epoch seconds, or ISO-8601)."""
    try:
        if ts_ms != "-":
            return _EPOCH + dt.timedelta(milliseconds=_epoch_ms(ts_ms, 1000))
        if ts != "-":
            try:
                return _EPOCH + dt.timedelta(milliseconds=_epoch_ms(ts, 1))
            except ValueError:
                t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
                return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed("bad-time") from None
    raise Malformed("no-time")


@lru_cache(maxsize=4096)
def _wall_time(date: str, clock: str) -> dt.datetime:
    """`date` + `time` columns (UTC); cached, since sorted log lines share their second."""
    if date == "-" or clock == "-":
        raise Malformed("no-time")
    if len(date) != 10 or len(clock) < 8 or "+" in clock or "-" in clock or "Z" in clock:
        raise Malformed("bad-time")
    try:
        return dt.datetime.fromisoformat(f"{date}T{clock}+00:00")
    except ValueError:
        raise Malformed("bad-time") from None


_STATUS_CODES = {f"{code:03d}": code for code in range(1000)}  # CloudFront writes 000 too


def _client_ip(c_ip: str, forwarded: str) -> str | None:
    """The connecting address; X-Forwarded-For only when c-ip is absent.

    X-Forwarded-For is whatever the client wrote, so preferring it would let one
    script mint a new visitor per request.  c-ip is what CloudFront saw, the same
    address the Lambda@Edge door hashes.
    """
    if c_ip != "-" and c_ip:
        return c_ip
    if forwarded != "-" and forwarded:
        first = _decoded(forwarded).split(",", 1)[0].strip()
        return first or None
    return None


def make_hit(values: Sequence[str], fallback_id: str, ingest: str,
             pixel_path: str | None = None) -> Hit:
    """One log record's raw values, in `NEEDED` order with `-` for absent, to a `Hit`;
    raises Malformed or Skip.  Positional and flat: it runs once per log line."""
    (date, clock, ts, ts_ms, c_ip, forwarded, method, host_header, cs_host, stem, status,
     referer, user_agent, query, request_id, country) = values
    if ts_ms == "-" and ts == "-":
        time = _wall_time(date, clock)
    else:
        time = _time_from(ts, ts_ms)
    if not MIN_YEAR <= time.year <= MAX_YEAR:  # CloudFront did not exist; a corrupt value
        raise Malformed("bad-time")
    if stem == "-" or not stem:
        raise Malformed("no-uri")
    uri = _decoded(stem)
    host = host_header if host_header != "-" else cs_host
    if host == "-" or not host:
        raise Malformed("no-host")
    if status == "-":
        code = None
    else:
        code = _STATUS_CODES.get(status)
        if code is None:
            raise Malformed("bad-status")
    verb = method.upper() if method != "-" else "GET"
    is_pixel = uri == pixel_path and verb == "GET"
    if not is_pixel:
        # Most log lines are assets: say so before decoding the costly free-text fields.
        reason = _page_view_rule(verb, code, _normalise_path(uri))
        if reason:
            raise Skip(reason)
    hit = Hit(
        time=time,
        event_id=request_id if request_id != "-" and request_id else fallback_id,
        host=_decoded(host),
        uri=uri,
        query=_decoded(query) if query != "-" else "",
        method=verb,
        status=code,
        referer=_decoded(referer) if referer != "-" else None,
        user_agent=_decoded_user_agent(user_agent) if user_agent != "-" else None,
        client_ip=_client_ip(c_ip, forwarded),
        headers={"cloudfront-viewer-country": country} if country != "-" else {},
        ingest=ingest,
    )
    if is_pixel:
        return _pixel_hit(hit)
    # The page-view rule has passed above, on the same path normalise() would check;
    # marking the hit as declared spares normalise() the second, identical check.
    hit.declared = True
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

    __slots__ = ("fields", "width", "delimiter", "problem", "_pick")

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
        self._pick = itemgetter(*(first.get(n, self.width) for n in self.NEEDED))
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
        cols.append("-")  # what an absent field reads as
        return make_hit(self._pick(cols), fallback_id, ingest, pixel_path)


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
    values = [_value(raw_values.get(n)) for n in W3CLayout.NEEDED]
    return make_hit(values, fallback_id, ingest, pixel_path)
