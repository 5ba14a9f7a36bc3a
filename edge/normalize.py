"""The one normaliser every ingestion door ends in (DESIGN sections 2-4 and 9).

Read it like Plausible's ingestion pipeline: a `Hit` (what a door saw) goes through
small named steps, each a pure function testable on its own:

    page_view_rule -> site -> path -> referrer -> utm -> geo -> user_agent
    -> visitor_id -> event

The raw client IP and User-Agent exist only inside `Hit`; the event that leaves
`normalise` never carries them, and nothing here logs a `Hit`.

Speed: `normalise` runs once per page view on every door (and ~10^6 times a minute in
the simulator), so it memoises the steps whose inputs repeat (paths, hosts, referrers,
UTM queries, geo headers; bounded LRU caches, in memory only, never keyed by IP or UA)
and precomputes the HMAC key pads per salt.  The public step functions behave exactly
as the plain versions; `normalise` calls cached twins of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from edge.salts import SaltStore
from edge.schema import SCHEMA_VERSION
from edge.useragent import device_from_cloudfront, parse_user_agent

PAGE_STATUSES = frozenset({200, 304})
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_FIELD = 2048  # longest string we keep for any free-text field
MAX_EVENT_NAME = 120
_UTC = dt.timezone.utc


class Skip(Exception):
    """This hit is not an event (an asset, an error, a POST, garbage); `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Hit:
    """What one door saw of one request.  Never persisted: it holds the raw IP and UA."""

    time: dt.datetime  # aware, UTC
    event_id: str
    host: str
    uri: str  # path as received (may be percent-encoded), no query
    query: str = ""
    method: str = "GET"
    status: int | None = None  # None where the door cannot know (viewer-request)
    referer: str | None = None
    user_agent: str | None = None
    client_ip: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case CloudFront-Viewer-* etc.
    event_name: str | None = None  # custom event; None for a page view
    ingest: str = "edge"
    declared: bool = False  # pixel/beacon: the tracker says it is a page, no request rule


# ---------------------------------------------------------------- steps

_MULTI_SLASH = re.compile(r"/{2,}")
_INDEX = re.compile(r"/index\.html?$")
_PAGE_EXT = (".html", ".htm")


def normalise_path(raw: str) -> str:
    """Percent-decode, collapse `//`, drop a final index.html/index.htm; nothing else."""
    path = raw.split("?", 1)[0].split("#", 1)[0]
    if "%" in path:
        path = unquote(path, errors="replace")
    if not path.startswith("/"):
        path = "/" + path
    if "//" in path:
        path = _MULTI_SLASH.sub("/", path)
    if path.endswith(("/index.html", "/index.htm")):
        path = _INDEX.sub("/", path)
    return path[:MAX_FIELD]


def is_page_path(path: str) -> bool:
    """Ends in `/`, `.html`, `.htm`, or has no file extension in its last segment."""
    if path.endswith("/") or path.endswith(_PAGE_EXT):
        return True
    return "." not in path.rsplit("/", 1)[-1]


def page_view_rule(method: str, status: int | None, path: str) -> str | None:
    """None when the request is a page view, else the reason it is not."""
    if method != "GET":
        return "not-get"
    if status is not None and status not in PAGE_STATUSES:
        return "status"
    if not is_page_path(path):
        return "asset"
    return None


def normalise_site(host: str) -> str:
    """Host the viewer asked for: lower case, no port, no trailing dot."""
    h = host.strip().lower()
    if h.startswith("["):  # IPv6 literal host
        h = h.split("]", 1)[0] + "]"
    else:
        h = h.split(":", 1)[0]
    return h.rstrip(".")[:255]


def strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def referrer_host(referer: str | None, site: str) -> str | None:
    """Referrer host, lower case, no `www.`; None when absent, unparsable or the site itself."""
    if not referer or referer == "-":
        return None
    try:
        host = urlsplit(referer.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = strip_www(host.lower().rstrip("."))
    if not host or host == strip_www(site):
        return None
    return host[:255]


_NO_UTM: tuple[None, ...] = (None,) * len(UTM_KEYS)
_NO_GEO: tuple[None, ...] = (None,) * 4


def utm(query: str) -> dict[str, str | None]:
    """The five utm_* parameters of the page URL query (first occurrence wins)."""
    return dict(zip(UTM_KEYS, _utm_values(query), strict=True))


@lru_cache(maxsize=4096)
def _utm_values(query: str) -> tuple[str | None, ...]:
    if not query or "utm_" not in query.lower():  # keys are case-insensitive
        return _NO_UTM
    out: dict[str, str | None] = dict.fromkeys(UTM_KEYS)
    for k, v in parse_qsl(query, keep_blank_values=False, errors="replace"):
        k = k.lower()
        if k in out and out[k] is None and v.strip():
            out[k] = v.strip()[:MAX_FIELD]
    return tuple(out.values())


def geo(headers: dict[str, str]) -> dict[str, str | None]:
    """Country, region, city and time zone from CloudFront viewer headers."""
    return dict(zip(("country", "region", "city", "timezone"), _geo_headers(headers), strict=True))


def _geo_headers(headers: dict[str, str]) -> tuple[str | None, str | None, str | None, str | None]:
    get = headers.get
    return _geo_values(
        get("cloudfront-viewer-country"),
        get("cloudfront-viewer-country-region") or get("cloudfront-viewer-country-region-name"),
        get("cloudfront-viewer-city"),
        get("cloudfront-viewer-time-zone"),
    )


@lru_cache(maxsize=4096)
def _geo_values(
    country: str | None, region: str | None, city: str | None, tz: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        country = ""
    if city and "%" in city:  # CloudFront URL-encodes non-ASCII city names
        city = unquote(city, errors="replace")
    return (
        country or None,
        (region or "").strip()[:64] or None,
        (city or "").strip()[:128] or None,
        (tz or "").strip()[:64] or None,
    )


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


# Two salts: today's and yesterday's (late events).  A day's key pads are dropped once
# two later days have been used: ~24 h after its day ends on a live site, inside the
# salts' 48 h lifetime.
@lru_cache(maxsize=2)
def _hmac_pads(salt: bytes):
    """SHA-256 states after the RFC 2104 inner/outer key blocks: halves the cost per id."""
    key = hashlib.sha256(salt).digest() if len(salt) > 64 else salt
    key = key.ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def visitor_id(salt: bytes, site: str, client_ip: str, user_agent: str) -> str:
    """First 16 hex chars of HMAC-SHA256(salt, site NUL ip NUL ua)."""
    msg = f"{site}\0{client_ip}\0{user_agent}".encode("utf-8", "surrogatepass")
    inner_pad, outer_pad = _hmac_pads(bytes(salt))
    inner = inner_pad.copy()
    inner.update(msg)
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.digest()[:8].hex()


# Lookup tables: datetime.isoformat() costs ~5x this on every event.
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))
_MILLIS = tuple(f".{i:03d}Z" for i in range(1000))


@lru_cache(maxsize=64)
def _day_prefix(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T"


def format_time(t: dt.datetime) -> str:
    """`2026-11-20T13:05:09.123Z` (UTC, milliseconds)."""
    if t.tzinfo is not None and t.tzinfo is not _UTC:
        t = t.astimezone(_UTC)
    return (
        f"{_day_prefix(t.date())}{_TWO_DIGITS[t.hour]}:{_TWO_DIGITS[t.minute]}:"
        f"{_TWO_DIGITS[t.second]}{_MILLIS[t.microsecond // 1000]}"
    )


def clean_event_name(name: str | None) -> str | None:
    if name is None:
        return None
    n = "".join(ch for ch in name.strip() if ch.isprintable())[:MAX_EVENT_NAME]
    return n or None


# ---------------------------------------------------------------- pipeline


_cached_path = lru_cache(maxsize=8192)(normalise_path)
_cached_site = lru_cache(maxsize=1024)(normalise_site)
_cached_page_view_rule = lru_cache(maxsize=8192)(page_view_rule)
_cached_referrer_host = lru_cache(maxsize=4096)(referrer_host)


def normalise(hit: Hit, salts: SaltStore) -> dict:
    """Run every step; return the canonical event or raise `Skip(reason)`."""
    path = _cached_path(hit.uri or "/")
    event_name = None if hit.event_name is None else clean_event_name(hit.event_name)
    if not hit.declared and event_name is None:
        reason = _cached_page_view_rule(hit.method.upper(), hit.status, path)
        if reason:
            raise Skip(reason)

    site = _cached_site(hit.host or "")
    if not site:
        raise Skip("no-site")
    t = hit.time
    if t.tzinfo is None:
        raise Skip("naive-time")
    if t.tzinfo is not _UTC:
        t = t.astimezone(_UTC)

    ua = hit.user_agent or ""
    info = parse_user_agent(ua)
    device_type = info.device_type
    headers = hit.headers
    if not info.is_bot and headers:
        device_type = device_from_cloudfront(headers) or device_type
    query = hit.query
    utm_source, utm_medium, utm_campaign, utm_term, utm_content = (
        _utm_values(query) if query and "utm_" in query else _NO_UTM
    )
    country, region, city, timezone = _geo_headers(headers) if headers else _NO_GEO
    referer = hit.referer

    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": hit.event_id[:128],
        "event_time": format_time(t),
        "event_type": "custom" if event_name else "pageview",
        "event_name": event_name,
        "site": site,
        "path": path,
        "referrer_host": _cached_referrer_host(referer, site) if referer else None,
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
        "utm_term": utm_term,
        "utm_content": utm_content,
        "country": country,
        "region": region,
        "city": city,
        "timezone": timezone,
        "device_type": device_type,
        "browser": info.browser,
        "browser_version": info.browser_version,
        "os": info.os,
        "os_version": info.os_version,
        "is_bot": info.is_bot,
        "visitor_id": visitor_id(salts.salt_for(t.date()), site, hit.client_ip or "", ua),
        "ingest": hit.ingest,
    }


def page_hit_from_url(url: str) -> tuple[str, str, str]:
    """(host, path, query) of a page URL given to the pixel or beacon as `u`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Skip("bad-page-url")
    return parts.netloc.rsplit("@", 1)[-1], parts.path or "/", parts.query
