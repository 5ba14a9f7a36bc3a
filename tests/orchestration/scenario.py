"""A hand-built landing zone covering every rule of DESIGN 4, and its expected numbers.

Day D is 2024-03-05.  Everything below is counted by hand in `EXPECTED`; the events go
through the real local Firehose emulator (and, where a normaliser rule is the point,
through the real normaliser), so the pipeline sees exactly what production writes.

Visitors on example.com (humans unless said otherwise):
  V1  10:00:00.000 page /           utm_source=Newsletter, medium email, campaign spring,
                                    referrer google.com  -> session 1, source "newsletter"
      10:30:00.000 page /pricing/   referrer twitter.com (ignored: not the first event);
                                    gap exactly 1800 s -> still session 1
      11:00:00.001 page /signup/    referrer news.ycombinator.com; gap 1800.001 s -> session 2
      11:05:00.000 custom "signup"  /signup/ -> session 2 has 1 page view + 1 custom: no bounce
  V2  23:59:59.999 page /           lands in folder D+1 (after midnight) -> still day D; bounce
      D+1 00:00:00.000 page /       the next day: a new day, a new session
  V3  08:00:00.000 page /blog/      referrer bing.com; Chrome on Windows in the US; delivered
                                    twice (same event_id, second copy in folder D+1)
  V5  09:00:00.000 page             via the normaliser: /docs/index.html -> /docs/, referrer
                                    https://www.example.com/ (self-referral) -> (direct)
  V7  14:00:00.000 page /truncated/ the only complete line of a truncated gzip object
  V8  D-1 23:59:00.000 page /       lands in folder D: belongs to D-1, not to D
  BOT 05:00, 05:10 Googlebot        only in bot_daily
On shop.example.com: V6 12:00:00.000 page /cart on a phone in France.
Plus, in folder D, a line that is not JSON and an event without visitor_id (malformed),
and an object that is not gzip at all (unreadable).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from edge.firehose import LocalFirehose
from edge.normalize import Hit, normalise
from edge.salts import MemorySaltStore
from edge.schema import SCHEMA_VERSION, encode

D = dt.date(2024, 3, 5)
D1 = D + dt.timedelta(days=1)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def t(day: dt.date, hms: str) -> dt.datetime:
    """`hms` is HH:MM:SS.mmm on `day`, UTC."""
    return dt.datetime.fromisoformat(f"{day.isoformat()}T{hms}+00:00")


def iso(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def event(event_id: str, when: dt.datetime, visitor: str, **fields) -> dict:
    e = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "event_time": iso(when),
        "event_type": "pageview",
        "event_name": None,
        "site": "example.com",
        "path": "/",
        "referrer_host": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
        "country": "DE",
        "region": "BE",
        "city": "Berlin",
        "timezone": "Europe/Berlin",
        "device_type": "desktop",
        "browser": "Firefox",
        "browser_version": "120",
        "os": "Linux",
        "os_version": None,
        "is_bot": False,
        "visitor_id": visitor * 16,
        "ingest": "simulator",
    }
    e.update(fields)
    return e


def normalised_self_referral() -> dict:
    """V5's page view, built by the real normaliser from what a door would see."""
    hit = Hit(
        time=t(D, "09:00:00.000"),
        event_id="v5-docs",
        host="example.com",
        uri="/docs/index.html",
        referer="https://www.example.com/",
        user_agent=FIREFOX_LINUX,
        client_ip="192.0.2.5",
        status=200,
        headers={
            "cloudfront-viewer-country": "DE",
            "cloudfront-viewer-country-region": "BE",
            "cloudfront-viewer-city": "Berlin",
            "cloudfront-viewer-time-zone": "Europe/Berlin",
        },
        ingest="log-stream",
    )
    return normalise(hit, MemorySaltStore(seed=b"scenario"))


def events_by_folder() -> dict[dt.date, list[tuple[float, bytes]]]:
    """(arrival, record) per landing folder."""
    e2_time = t(D, "23:59:59.999")
    v3 = event("v3-blog", t(D, "08:00:00.000"), "3", path="/blog/", referrer_host="bing.com",
               country="US", region="CA", city="San Jose", timezone="America/Los_Angeles",
               browser="Chrome", os="Windows")
    folder_d = [
        event("v1-home", t(D, "10:00:00.000"), "1", utm_source="Newsletter", utm_medium="email",
              utm_campaign="spring", referrer_host="google.com"),
        event("v1-pricing", t(D, "10:30:00.000"), "1", path="/pricing/",
              referrer_host="twitter.com"),
        event("v1-signup", t(D, "11:00:00.001"), "1", path="/signup/",
              referrer_host="news.ycombinator.com"),
        event("v1-signup-event", t(D, "11:05:00.000"), "1", path="/signup/", event_type="custom",
              event_name="signup"),
        v3,
        normalised_self_referral(),
        event("v6-cart", t(D, "12:00:00.000"), "6", site="shop.example.com", path="/cart",
              country="FR", region=None, city=None, timezone=None, device_type="mobile",
              browser="Chrome Mobile", os="Android"),
        event("bot-1", t(D, "05:00:00.000"), "b", device_type="bot", browser="Googlebot",
              is_bot=True),
        event("bot-2", t(D, "05:10:00.000"), "b", path="/about/", device_type="bot",
              browser="Googlebot", is_bot=True),
    ]
    arrivals_d = [(t(D, "20:00:00.000").timestamp(), encode(e)) for e in folder_d]
    late_for_previous_day = event("v8-late", t(D - dt.timedelta(days=1), "23:59:00.000"), "8")
    arrivals_d.insert(0, (t(D, "00:00:10.000").timestamp(), encode(late_for_previous_day)))
    arrivals_d.append((t(D, "20:00:01.000").timestamp(), b"this line is not JSON\n"))
    no_visitor = event("no-visitor", t(D, "15:00:00.000"), "9")
    no_visitor["visitor_id"] = None
    arrivals_d.append((t(D, "20:00:02.000").timestamp(), encode(no_visitor)))

    folder_d1 = [
        (t(D1, "00:00:30.000").timestamp(), encode(event("v2-home", e2_time, "2"))),
        (t(D1, "00:00:31.000").timestamp(), encode(v3)),  # the retried delivery
        (t(D1, "00:05:00.000").timestamp(),
         encode(event("v2-next-day", t(D1, "00:00:00.000"), "2"))),
    ]
    return {D: arrivals_d, D1: folder_d1}


def land(landing: Path) -> None:
    """Write the scenario's landing zone: Firehose objects, then one truncated object."""
    with LocalFirehose(landing, buffer_seconds=3600, uuid_factory=_counter()) as firehose:
        for records in events_by_folder().values():
            for arrival, record in records:
                firehose.put(record, arrival=arrival)
    truncated_line = encode(event("v7-truncated", t(D, "14:00:00.000"), "7", path="/truncated/"))
    half = encode(event("v7-lost", t(D, "14:01:00.000"), "7", path="/lost/"))
    data = gzip.compress(truncated_line + half, mtime=0)
    damaged = landing / "events" / f"dt={D}" / f"edgestats-1-{D}-14-00-00-truncated.gz"
    # cut inside the second line's compressed bytes: the first line survives intact
    damaged.write_bytes(_cut_after_first_line(data, len(truncated_line)))
    # an object that is not gzip at all: the crawl warns, `events` skips it
    (damaged.parent / f"edgestats-1-{D}-15-00-00-notgzip.gz").write_bytes(b"not a gzip object\n")


def _cut_after_first_line(data: bytes, first_len: int) -> bytes:
    """The shortest prefix of `data` (a gzip stream) that inflates to the first line and
    a few bytes of the second: exactly one complete line is salvageable."""
    import zlib

    for cut in range(10, len(data)):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = d.decompress(data[:cut])
        except zlib.error:
            continue
        if len(out) > first_len + 10:
            assert not d.eof and out.count(b"\n") == 1
            return data[:cut]
    raise AssertionError("could not build a truncated object")


def _counter():
    n = iter(range(1, 1_000_000))
    return lambda: f"00000000-0000-0000-0000-{next(n):012d}"


def add_visitor(landing: Path, visitor: str, when: dt.datetime, arrival: dt.datetime) -> None:
    """One more page view on example.com (for the re-materialisation tests)."""
    with LocalFirehose(landing, buffer_seconds=3600) as firehose:
        firehose.put(encode(event(f"extra-{visitor}", when, visitor, path="/extra/")),
                     arrival=arrival.timestamp())


SITE = "example.com"
SHOP = "shop.example.com"

# Every summary table's rows for day D, in (dt, keys) order, counted by hand from the
# docstring above.  Durations: V1's sessions last 1800 s and 299.999 s (11:00:00.001 to
# 11:05:00.000), the other four 0 s.
EXPECTED: dict[str, list[tuple]] = {
    "site_daily": [
        # site, pageviews, visitors, sessions, bounces, bounce_rate, avg_visit_duration_s,
        # views_per_session
        (SITE, 7, 5, 6, 4, 4 / 6, (1800 + 299.999) / 6, 7 / 6),
        (SHOP, 1, 1, 1, 1, 1.0, 0.0, 1.0),
    ],
    "page_daily": [
        # site, path, pageviews, visitors, entries, exits
        (SITE, "/", 2, 2, 2, 1),
        (SITE, "/blog/", 1, 1, 1, 1),
        (SITE, "/docs/", 1, 1, 1, 1),
        (SITE, "/pricing/", 1, 1, 0, 1),
        (SITE, "/signup/", 1, 1, 1, 1),
        (SITE, "/truncated/", 1, 1, 1, 1),
        (SHOP, "/cart", 1, 1, 1, 1),
    ],
    "source_daily": [
        # site, source, utm_medium, utm_campaign, sessions, visitors, pageviews, bounces
        (SITE, "(direct)", None, None, 3, 3, 3, 3),
        (SITE, "bing.com", None, None, 1, 1, 1, 1),
        (SITE, "news.ycombinator.com", None, None, 1, 1, 1, 0),
        (SITE, "newsletter", "email", "spring", 1, 1, 2, 0),
        (SHOP, "(direct)", None, None, 1, 1, 1, 1),
    ],
    "geo_daily": [
        # site, country, region, city, visitors, pageviews
        (SITE, "DE", "BE", "Berlin", 4, 6),
        (SITE, "US", "CA", "San Jose", 1, 1),
        (SHOP, "FR", None, None, 1, 1),
    ],
    "tech_daily": [
        # site, device_type, browser, os, visitors, pageviews
        (SITE, "desktop", "Chrome", "Windows", 1, 1),
        (SITE, "desktop", "Firefox", "Linux", 4, 6),
        (SHOP, "mobile", "Chrome Mobile", "Android", 1, 1),
    ],
    "site_hourly": [
        # site, hour, pageviews, visitors
        (SITE, 8, 1, 1),
        (SITE, 9, 1, 1),
        (SITE, 10, 2, 1),
        (SITE, 11, 1, 1),
        (SITE, 14, 1, 1),
        (SITE, 23, 1, 1),
        (SHOP, 12, 1, 1),
    ],
    "event_daily": [
        # site, event_name, events, visitors
        (SITE, "signup", 1, 1),
    ],
    "bot_daily": [
        # site, browser, hits
        (SITE, "Googlebot", 2),
    ],
}

# Day D+1: only V2's page view just after midnight.
EXPECTED_NEXT_DAY_SITE_DAILY = [(SITE, 1, 1, 1, 1, 1.0, 0.0, 1.0)]
