"""Synthetic traffic through the real edge code into the landing zone (`edgestats simulate`).

Every event is a `Hit` the way a door would see it (raw User-Agent, client IP from the
documentation ranges, CloudFront viewer headers, un-normalised URIs), so the pipeline
downstream sees what production traffic would give it, including assets and errors the
normaliser skips, retried deliveries (same event_id twice) and events that arrive after
midnight.  For speed (>= 200,000 events/s) a chunk's hits are drawn as numpy columns
and `normalise` runs once per distinct input of its steps (page URI, referrer, UTM
query, User-Agent x location; `visitor_id` once per visitor-day); each line is joined
from those encoded fragments and is byte-identical to `encode(normalise(hit))`
(tests/edge/test_simulate_fast.py).  `_ChunkSimulator` is the former one-hit-at-a-time
path, kept as the benchmark's baseline.

Determinism: the work is cut into fixed chunks (a day, or an hour of a big day, and a
part), each with its own seeded random generator, salt store and uuid factory.  Output depends only on the seed
and the arguments, never on how many worker processes ran the chunks, so the same seed
rewrites byte-identical objects under identical names (a re-run overwrites, never
double-counts).  The salts come from the seed: synthetic data only.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import itertools
import math
import multiprocessing
import operator
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import ConfigError
from edge.firehose import DAY_SECONDS, DEFAULT_BUFFER_BYTES, LocalFirehose
from edge.normalize import Hit, Skip, format_time, normalise, normalise_site, visitor_id
from edge.salts import MemorySaltStore
from edge.schema import SCHEMA_VERSION, encode
from edge.useragent import parse_user_agent

# ---------------------------------------------------------------- traffic model

SITES = (("example.com", 0.78), ("docs.example.com", 0.22))

# (canonical path, raw URIs as browsers and links send them); order = popularity rank.
PAGES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "example.com": [
        ("/", ("/", "/", "/", "/index.html")),
        ("/pricing", ("/pricing", "/pricing", "//pricing")),
        ("/features/", ("/features/", "/features/index.html")),
        ("/blog/", ("/blog/", "/blog/index.html", "/blog//")),
        ("/blog/cookieless-analytics/", ("/blog/cookieless-analytics/",)),
        ("/signup", ("/signup",)),
        ("/about/", ("/about/", "/about/index.htm")),
        ("/blog/launch-week.html", ("/blog/launch-week.html",)),
        ("/contact.html", ("/contact.html",)),
        ("/blog/sécurité/", ("/blog/s%C3%A9curit%C3%A9/",)),
        ("/careers/", ("/careers/",)),
        ("/legal/privacy.html", ("/legal/privacy.html",)),
        *((f"/blog/post-{n}/", (f"/blog/post-{n}/",)) for n in range(1, 41)),
    ],
    "docs.example.com": [
        ("/", ("/", "/index.html")),
        ("/getting-started/", ("/getting-started/", "/getting-started/index.html")),
        ("/guides/install.html", ("/guides/install.html",)),
        ("/guides/cloudfront/", ("/guides/cloudfront/", "//guides/cloudfront/")),
        ("/api/events", ("/api/events",)),
        ("/download/", ("/download/",)),
        ("/reference/config/", ("/reference/config/",)),
        ("/guides/lambda@edge/", ("/guides/lambda%40edge/",)),
        ("/api/sessions", ("/api/sessions",)),
        ("/faq.htm", ("/faq.htm",)),
        ("/changelog/", ("/changelog/",)),
        *((f"/reference/v1/item-{n}", (f"/reference/v1/item-{n}",)) for n in range(1, 31)),
    ],
}
ZIPF_EXPONENT = 1.1

# Custom events the tracker would send from these pages: (name, probability per view).
CUSTOM_EVENTS = {
    ("example.com", "/pricing"): ("signup", 0.10),
    ("example.com", "/signup"): ("signup", 0.35),
    ("docs.example.com", "/download/"): ("download", 0.40),
    ("docs.example.com", "/guides/install.html"): ("download", 0.12),
}

ASSETS = ("/static/app.js", "/static/site.css", "/favicon.ico", "/img/hero.webp",
          "/fonts/inter.woff2")
ASSET_SHARE = 0.06  # per human page view, an asset request the normaliser skips
NOT_FOUND_SHARE = 0.007  # per human page view, a 404 the normaliser skips
NOT_MODIFIED_SHARE = 0.04  # 304s are still page views
DUPLICATE_SHARE = 0.004  # records Firehose delivers twice (a producer retry)
SLOW_ARRIVAL_SHARE = 0.10  # records that reach Firehose 10 s to 4 min after the request

# Real User-Agent strings with rough 2026 shares; weights are relative.
HUMAN_USER_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 22),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 10),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", 3),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 5),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 2),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", 7),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 6),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 18),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", 5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 2),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", 14),
    ("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 3),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", 1),
    ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", 3),
    ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 1),
)

# (User-Agent, weight, mean pages per visit): crawlers walk, monitors ping one page.
BOT_USER_AGENTS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 25, 8),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 "
     "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 12, 6),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 14, 6),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 6, 10),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
     "+https://openai.com/gptbot)", 5, 8),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", 8, 3),
    ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", 16, 1),
    ("curl/8.5.0", 8, 1),
    ("python-requests/2.32.3", 6, 2),
)
BOT_PAGEVIEW_SHARE = 0.05  # of page views (Plausible-sized sites see 3-8 %)

# CloudFront-Viewer-* values: (country, region code, city as CloudFront sends it, tz, weight).
# CloudFront URL-encodes non-ASCII city names; some viewers resolve to a country only.
LOCATIONS = (
    ("US", "CA", "San Francisco", "America/Los_Angeles", 9),
    ("US", "NY", "New York", "America/New_York", 9),
    ("US", "TX", "Austin", "America/Chicago", 4),
    ("US", "WA", "Seattle", "America/Los_Angeles", 3),
    ("CA", "ON", "Toronto", "America/Toronto", 3),
    ("BR", "SP", "S%C3%A3o%20Paulo", "America/Sao_Paulo", 3),
    ("GB", "ENG", "London", "Europe/London", 7),
    ("DE", "BE", "Berlin", "Europe/Berlin", 6),
    ("DE", "BY", "M%C3%BCnchen", "Europe/Berlin", 3),
    ("FR", "IDF", "Paris", "Europe/Paris", 5),
    ("NL", "NH", "Amsterdam", "Europe/Amsterdam", 3),
    ("ES", "MD", "Madrid", "Europe/Madrid", 2),
    ("SE", "AB", "Stockholm", "Europe/Stockholm", 2),
    ("PL", "14", "Warsaw", "Europe/Warsaw", 2),
    ("IN", "MH", "Mumbai", "Asia/Kolkata", 6),
    ("IN", "KA", "Bengaluru", "Asia/Kolkata", 4),
    ("JP", "13", "Tokyo", "Asia/Tokyo", 4),
    ("SG", "01", "Singapore", "Asia/Singapore", 2),
    ("AU", "NSW", "Sydney", "Australia/Sydney", 3),
    ("ZA", "GP", "Johannesburg", "Africa/Johannesburg", 1),
    ("NG", None, None, None, 2),
    (None, None, None, None, 2),  # no viewer headers forwarded
)

# Landing referrers: search, social, other sites, direct (None), self.
REFERRERS = (
    (None, 38),
    ("https://www.google.com/", 26),
    ("https://www.bing.com/", 4),
    ("https://duckduckgo.com/", 3),
    ("https://t.co/Xq3bT9zK2p", 3),
    ("https://news.ycombinator.com/item?id=42187711", 3),
    ("https://www.reddit.com/r/webdev/comments/1gq2x0b/", 3),
    ("https://www.linkedin.com/", 2),
    ("https://l.facebook.com/", 2),
    ("https://github.com/edgestats/edgestats", 3),
    ("android-app://com.google.android.gm/", 1),
    ("https://docs.example.com/getting-started/", 2),
    ("https://example.com/", 2),
)
UTM_SHARE = 0.08
UTM_QUERIES = (  # mixed-case sources on purpose: the pipeline lower-cases them
    "utm_source=Newsletter&utm_medium=email&utm_campaign=november-launch",
    "utm_source=newsletter&utm_medium=email&utm_campaign=november-launch",
    "utm_source=NEWSLETTER&utm_medium=email&utm_campaign=november-launch&utm_content=hero",
    "utm_source=twitter&utm_medium=social&utm_campaign=Black%20Friday",
    "utm_source=Twitter&utm_medium=social&utm_campaign=Black%20Friday",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=cookieless+analytics",
    "utm_source=producthunt&utm_medium=referral",
)

# Relative page views per UTC hour: Europe's afternoon meets America's morning.
DIURNAL = (2.0, 1.6, 1.3, 1.1, 1.0, 1.1, 1.5, 2.2, 3.0, 3.6, 4.0, 4.2,
           4.3, 4.5, 4.8, 5.0, 4.9, 4.6, 4.2, 3.8, 3.4, 3.0, 2.7, 2.3)

RETURN_SHARE = 0.12  # visitors who come back the same day after a > 30 min break
LONG_READ_SHARE = 0.03  # page gaps of 10-25 min: long sessions that stay one session
MAX_PAGEVIEWS_PER_CHUNK = 50_000  # bounds memory: a chunk's records are sorted in RAM
PARALLEL_FROM = 100_000  # page views per run from which worker processes pay off
# Firehose's longest buffer interval: fewer, bigger objects (a busy stream fills its size
# buffer first anyway); a 60 s interval would make ~1,500 tiny objects a day.
SIMULATOR_BUFFER_SECONDS = 900.0

SIMULATOR_IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:")


@dataclass(frozen=True)
class Chunk:
    """One unit of work: the visits that start in some UTC hours of one day."""

    landing: str
    stream: str
    seed: int
    day: dt.date
    hours: tuple[int, ...]  # visits start in these hours, weighted by DIURNAL
    part: int
    pageviews: int
    buffer_bytes: int
    buffer_seconds: float
    compresslevel: int


# ---------------------------------------------------------------- one chunk


def _chunk_tag(chunk: Chunk) -> str:
    """Seeds a chunk's random generators: the output depends on nothing else."""
    hours = "-".join(map(str, chunk.hours))
    return f"edgestats-simulator:{chunk.seed}:{chunk.day.isoformat()}:{hours}:{chunk.part}"


def _cumulative(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def _headers(country, region, city, tz) -> dict[str, str]:
    pairs = (("cloudfront-viewer-country", country), ("cloudfront-viewer-country-region", region),
             ("cloudfront-viewer-city", city), ("cloudfront-viewer-time-zone", tz))
    return {k: v for k, v in pairs if v is not None}


class _ChunkSimulator:
    """The per-hit path: normalise + encode + LocalFirehose.put for each hit (~38 us an
    event).  The benchmark's baseline and bench_normalise's source of realistic hits."""

    def __init__(self, chunk: Chunk):
        self.chunk = chunk
        tag = _chunk_tag(chunk)
        self.rng = random.Random(tag)
        uuid_rng = random.Random(tag + ":uuid")
        self.uuid_factory: Callable[[], str] = lambda: str(
            uuid.UUID(int=uuid_rng.getrandbits(128), version=4)
        )
        # Event ids: a random 40-character prefix per chunk and a counter, 56 characters
        # like a CloudFront request id; unique across chunks, days and seeds.
        self.id_prefix = base64.urlsafe_b64encode(self.rng.randbytes(30)).decode("ascii")
        self.id_counter = itertools.count()
        self.salts = MemorySaltStore(seed=f"edgestats-simulator:{chunk.seed}".encode())
        self.records: list[tuple[int, bytes]] = []  # (arrival ms, NDJSON line)
        self.pageviews = self.custom = self.bots = self.skipped = self.duplicates = 0

        self.site_names = [s for s, _ in SITES]
        self.site_cum = _cumulative(w for _, w in SITES)
        self.page_cum = {
            s: _cumulative(1.0 / rank**ZIPF_EXPONENT for rank in range(1, len(PAGES[s]) + 1))
            for s in self.site_names
        }
        self.self_referrers = {(s, p): f"https://{s}{p}" for s in PAGES for p, _ in PAGES[s]}
        self.human_uas = [u for u, _ in HUMAN_USER_AGENTS]
        self.human_ua_cum = _cumulative(w for _, w in HUMAN_USER_AGENTS)
        self.bot_uas = [(u, m) for u, _, m in BOT_USER_AGENTS]
        self.bot_ua_cum = _cumulative(w for _, w, _ in BOT_USER_AGENTS)
        self.locations = [_headers(*loc[:4]) for loc in LOCATIONS]
        self.location_cum = _cumulative(loc[4] for loc in LOCATIONS)
        self.referrers = [r for r, _ in REFERRERS]
        self.referrer_cum = _cumulative(w for _, w in REFERRERS)
        self.hour_cum = _cumulative(DIURNAL[h] for h in chunk.hours)

    def _pick(self, items, cum):
        return items[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def _ip(self, bot: bool) -> str:
        r = self.rng
        if bot:
            return f"198.51.100.{r.randrange(1, 255)}"
        if r.random() < 0.35:  # IPv4 behind NAT: several visitors may share one
            return f"{'192.0.2.' if r.random() < 0.5 else '203.0.113.'}{r.randrange(1, 255)}"
        return f"2001:db8:{r.getrandbits(16):x}:{r.getrandbits(16):x}::{r.getrandbits(16):x}"

    def _emit(self, hit: Hit, t_ms: int) -> None:
        """Normalise one hit at time t_ms and queue its record with an arrival time."""
        random_ = self.rng.random
        hit.time = dt.datetime.fromtimestamp(t_ms / 1000, _UTC)
        hit.event_id = f"{self.id_prefix}{next(self.id_counter):016x}"
        try:
            event = normalise(hit, self.salts)
        except Skip:
            self.skipped += 1
            return
        if event["is_bot"]:
            self.bots += 1
        if event["event_type"] == "pageview":
            self.pageviews += 1
        else:
            self.custom += 1
        record = encode(event)
        # Firehose stamps arrival a moment after the request: ~1.5 s, and 10-240 s for
        # one in ten (log delivery, retries); events just before midnight land in D+1.
        if random_() < SLOW_ARRIVAL_SHARE:
            arrival = t_ms + 10_000 + int(random_() * 230_000)
        else:
            arrival = t_ms + 100 + min(int(-_log(1.0 - random_()) * 1_500), 60_000)
        self.records.append((arrival, record))
        if random_() < DUPLICATE_SHARE:  # the producer retried: same record again
            self.duplicates += 1
            self.records.append((arrival + 1_000 + int(random_() * 29_000), record))

    def _skipped_request(self, hit: Hit, t_ms: int, uri: str, status: int) -> None:
        """An asset or error request on the same visit: the normaliser must skip it."""
        page_uri, page_status, page_query = hit.uri, hit.status, hit.query
        hit.uri, hit.status, hit.query = uri, status, ""
        self._emit(hit, t_ms)
        hit.uri, hit.status, hit.query = page_uri, page_status, page_query

    def _visit(self, hit: Hit, site: str, start_ms: int, pageviews: int, bot: bool) -> int:
        """One visit of `pageviews` page views from `start_ms`; returns its last time."""
        random_ = self.rng.random
        pages, page_cum, top = PAGES[site], self.page_cum[site], self.page_cum[site][-1]
        emit = self._emit
        t = start_ms
        previous = None
        for n in range(pageviews):
            if n:
                if bot:
                    t += 500 + int(random_() * 19_500)
                elif random_() < LONG_READ_SHARE:
                    t += 600_000 + int(random_() * 900_000)
                else:  # mean ~45 s, never 30 min: one session
                    t += 2_000 + min(int(-_log(1.0 - random_()) * 45_000), 1_200_000)
                hit.referer = self.self_referrers[site, previous]
                hit.query = ""
            path, raw_uris = pages[bisect.bisect(page_cum, random_() * top)]
            hit.uri = raw_uris[int(random_() * len(raw_uris))]
            hit.status = 304 if random_() < NOT_MODIFIED_SHARE else 200
            hit.event_name = None
            hit.declared = False
            emit(hit, t)
            previous = path
            if bot:
                continue
            if random_() < ASSET_SHARE:
                self._skipped_request(hit, t + 120, ASSETS[int(random_() * len(ASSETS))], 200)
            if random_() < NOT_FOUND_SHARE:
                self._skipped_request(hit, t + 400, "/old-page", 404)
            custom = CUSTOM_EVENTS.get((site, path))
            if custom and random_() < custom[1]:
                t += 1_000 + int(random_() * 59_000)
                hit.event_name, hit.declared, hit.status = custom[0], True, None
                emit(hit, t)
        return t

    def run(self) -> dict:
        c, r = self.chunk, self.rng
        day_start_ms = int(dt.datetime(c.day.year, c.day.month, c.day.day,
                                       tzinfo=_UTC).timestamp()) * 1000
        # Exact quotas, drawn from in proportion, keep the bot share steady at any size.
        bots_left = round(c.pageviews * BOT_PAGEVIEW_SHARE)
        humans_left = c.pageviews - bots_left
        hit = Hit(time=_EPOCH, event_id="", host="", uri="/", ingest="simulator")  # reused
        while humans_left + bots_left > 0:
            bot = r.random() * (humans_left + bots_left) < bots_left
            site = self._pick(self.site_names, self.site_cum)
            headers = self._pick(self.locations, self.location_cum)
            if bot:
                ua, mean_pages = self._pick(self.bot_uas, self.bot_ua_cum)
                visits, left = 1, bots_left
            else:
                ua, mean_pages = self._pick(self.human_uas, self.human_ua_cum), 2.6
                visits, left = (2 if r.random() < RETURN_SHARE else 1), humans_left
            hit.host, hit.user_agent, hit.client_ip, hit.headers = site, ua, self._ip(bot), headers
            hour = self._pick(c.hours, self.hour_cum)
            t = day_start_ms + hour * 3_600_000 + r.randrange(3_600_000)
            for _ in range(visits):
                pageviews = 1
                if mean_pages > 1:  # geometric-like: many one-page visits, a long tail
                    pageviews += int(r.expovariate(1 / (mean_pages - 1)))
                pageviews = min(left, pageviews)
                hit.referer, hit.query = None, ""
                if not bot:
                    hit.referer = self._pick(self.referrers, self.referrer_cum)
                    if r.random() < UTM_SHARE:
                        hit.query = UTM_QUERIES[int(r.random() * len(UTM_QUERIES))]
                t = self._visit(hit, site, t, pageviews, bot)
                left -= pageviews
                if left <= 0:
                    break
                t += r.randrange(31 * 60_000, 90 * 60_000)  # > 30 min: a new session
            if bot:
                bots_left = left
            else:
                humans_left = left
        return self.deliver()

    def deliver(self) -> dict:
        c = self.chunk
        self.records.sort(key=_arrival)
        firehose = LocalFirehose(
            c.landing, c.stream, buffer_bytes=c.buffer_bytes, buffer_seconds=c.buffer_seconds,
            uuid_factory=self.uuid_factory, compresslevel=c.compresslevel,
        )
        put = firehose.put
        for arrival_ms, record in self.records:
            put(record, arrival_ms / 1000)
        firehose.close()
        return {
            "events": len(self.records), "pageviews": self.pageviews,
            "custom_events": self.custom, "bots": self.bots, "duplicates": self.duplicates,
            "skipped": self.skipped, "objects": len(firehose.objects_written),
        }


# ---------------------------------------------------------------- one chunk, in batches
#
# The per-hit path above costs ~38 us an event; the target allows 10.  The expensive
# steps depend on few distinct inputs, so the batch path draws a chunk's traffic as
# numpy columns, runs `normalise` once per distinct page URI, referrer, UTM query and
# User-Agent x location (each on a real hit of the chunk that has it), computes the
# visitor id once per visitor-day with the normaliser's own `visitor_id`, and assembles
# every NDJSON line from those encoded fragments plus its event id and time.
# tests/edge/test_simulate_fast.py checks lines byte for byte against normalise+encode.


class _Tables:
    """The traffic model as index tables (built once per process)."""

    def __init__(self) -> None:
        self.sites = [s for s, _ in SITES]
        self.site_p = _probabilities(w for _, w in SITES)
        self.page_site, self.page_path, self.uris, self.uri_page = [], [], [], []
        self.page_uri_base, self.page_uri_n, self.site_lo, self.site_cum = [], [], [], []
        for s, site in enumerate(self.sites):
            self.site_lo.append(len(self.page_path))
            self.site_cum.append(np.cumsum(
                [1.0 / rank**ZIPF_EXPONENT for rank in range(1, len(PAGES[site]) + 1)]))
            for path, raw in PAGES[site]:
                self.page_uri_base.append(len(self.uris))
                self.page_uri_n.append(len(raw))
                self.uri_page.extend([len(self.page_path)] * len(raw))
                self.uris.extend(raw)
                self.page_site.append(s)
                self.page_path.append(path)
        n_pages = len(self.page_path)
        self.page_site = np.array(self.page_site)
        self.page_uri_base = np.array(self.page_uri_base)
        self.page_uri_n = np.array(self.page_uri_n)
        self.uri_page = np.array(self.uri_page)
        self.custom_name = [CUSTOM_EVENTS.get((self.sites[self.page_site[g]], self.page_path[g]),
                                              (None, 0.0))[0] for g in range(n_pages)]
        self.custom_p = np.array([CUSTOM_EVENTS.get((self.sites[self.page_site[g]], p),
                                                    (None, 0.0))[1]
                                  for g, p in enumerate(self.page_path)])
        # referers: the landing referrers (index 0 is None), then "self" per page
        self.referers = [r for r, _ in REFERRERS]
        self.referer_p = _probabilities(w for _, w in REFERRERS)
        self.self_referer_base = len(self.referers)
        self.referers += [f"https://{self.sites[self.page_site[g]]}{p}"
                          for g, p in enumerate(self.page_path)]
        self.queries = ["", *UTM_QUERIES]
        self.uas = [u for u, _ in HUMAN_USER_AGENTS] + [u for u, _, _ in BOT_USER_AGENTS]
        self.n_human_uas = len(HUMAN_USER_AGENTS)
        self.human_ua_p = _probabilities(w for _, w in HUMAN_USER_AGENTS)
        self.bot_ua_p = _probabilities(w for _, w, _ in BOT_USER_AGENTS)
        self.bot_mean_pages = np.array([m for _, _, m in BOT_USER_AGENTS], dtype=float)
        self.locations = [_headers(*loc[:4]) for loc in LOCATIONS]
        self.location_p = _probabilities(loc[4] for loc in LOCATIONS)
        self.site_names = [normalise_site(s) for s in self.sites]


def _probabilities(weights) -> np.ndarray:
    w = np.array(list(weights), dtype=float)
    return w / w.sum()


_TABLES: _Tables | None = None


def _tables() -> _Tables:
    global _TABLES
    if _TABLES is None:
        _TABLES = _Tables()
    return _TABLES


_DAY_MS = 86_400_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_PAGE_FIELDS = ("event_type", "event_name", "site", "path")
_REFERRER_FIELDS = ("referrer_host",)
_UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_VIEWER_FIELDS = ("country", "region", "city", "timezone", "device_type", "browser",
                  "browser_version", "os", "os_version", "is_bot")
_KINDS = 3  # page view 200, page view 304, custom event


def _fragment(event: dict, fields: tuple[str, ...]) -> bytes:
    """`"a":1,"b":2,` exactly as `encode` writes these fields inside the whole line."""
    return encode({f: event[f] for f in fields})[1:-2] + b","


class _BatchChunk:
    """Generates one chunk as numpy columns, assembles its lines, writes its objects."""

    def __init__(self, chunk: Chunk):
        self.chunk = chunk
        self.t = _tables()
        tag = _chunk_tag(chunk)
        self.rng = np.random.default_rng(
            int.from_bytes(hashlib.sha256(tag.encode()).digest()[:16], "big"))
        uuid_rng = random.Random(tag + ":uuid")
        self.uuid_factory: Callable[[], str] = lambda: str(
            uuid.UUID(int=uuid_rng.getrandbits(128), version=4)
        )
        self.id_prefix = base64.urlsafe_b64encode(self.rng.bytes(30))
        self.salts = MemorySaltStore(seed=f"edgestats-simulator:{chunk.seed}".encode())
        self.day_start_ms = int(dt.datetime(chunk.day.year, chunk.day.month, chunk.day.day,
                                            tzinfo=_UTC).timestamp()) * 1000

    # ------------------------------------------------------------ traffic

    def _visitors(self, quota: int, bot: bool) -> dict:
        """Visitors and their visits until `quota` page views (the last visit cut short)."""
        t, rng, c = self.t, self.rng, self.chunk
        hours = np.array(c.hours)
        hour_p = _probabilities(DIURNAL[h] for h in c.hours)
        batches, have = [], 0
        while have < quota:
            n = (quota - have) // (4 if bot else 2) + 16
            if bot:
                ua = t.n_human_uas + rng.choice(len(t.bot_ua_p), n, p=t.bot_ua_p)
                visits = np.ones(n, dtype=np.int64)
            else:
                ua = rng.choice(t.n_human_uas, n, p=t.human_ua_p)
                visits = 1 + (rng.random(n) < RETURN_SHARE)
            v = {
                "site": rng.choice(len(t.sites), n, p=t.site_p),
                "loc": rng.choice(len(t.locations), n, p=t.location_p),
                "ua": ua,
                "start": self.day_start_ms + hours[rng.choice(len(hours), n, p=hour_p)]
                * 3_600_000 + rng.integers(0, 3_600_000, n),
                "ip_kind": rng.random(n), "ip": rng.integers(0, 1 << 48, n),
            }
            visitor = np.repeat(np.arange(n), visits)
            m = len(visitor)
            if bot:
                mean = t.bot_mean_pages[ua - t.n_human_uas]
                pages = 1 + np.floor(rng.exponential(np.maximum(mean - 1, 1e-9), m))
                pages = np.where(mean > 1, pages, 1).astype(np.int64)
                referer = np.zeros(m, dtype=np.int64)
                query = np.zeros(m, dtype=np.int64)
            else:
                pages = 1 + np.floor(rng.exponential(1.6, m)).astype(np.int64)
                referer = rng.choice(len(t.referer_p), m, p=t.referer_p)
                query = np.where(rng.random(m) < UTM_SHARE,
                                 1 + rng.integers(0, len(UTM_QUERIES), m), 0)
            v.update(visitor=visitor + sum(len(b["site"]) for b in batches),
                     second=np.r_[False, visitor[1:] == visitor[:-1]] if m else visitor > 0,
                     pages=pages, referer=referer, query=query,
                     pause=rng.integers(31 * 60_000, 90 * 60_000, m))
            batches.append(v)
            have += int(pages.sum())
        out = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
        cum = np.cumsum(out["pages"])
        last = int(np.searchsorted(cum, quota))  # the visit that reaches the quota
        out["pages"][last] -= cum[last] - quota
        visitors = int(out["visitor"][last]) + 1
        for k in ("site", "loc", "ua", "start", "ip_kind", "ip"):
            out[k] = out[k][:visitors]
        for k in ("visitor", "second", "pages", "referer", "query", "pause"):
            out[k] = out[k][: last + 1]
        out["bot"] = np.full(visitors, bot)
        return out

    def generate(self) -> None:
        """Draw the chunk's events and records as columns (nothing encoded yet)."""
        t, rng, c = self.t, self.rng, self.chunk
        bots = round(c.pageviews * BOT_PAGEVIEW_SHARE)
        humans, robots = self._visitors(c.pageviews - bots, False), None
        parts = [humans]
        if bots:
            robots = self._visitors(bots, True)
            robots["visitor"] = robots["visitor"] + len(humans["site"])
            parts.append(robots)
        vis = {k: np.concatenate([p[k] for p in parts]) for k in humans}
        self.visitor_site, self.visitor_loc, self.visitor_ua = vis["site"], vis["loc"], vis["ua"]
        self.visitor_ip_kind, self.visitor_ip = vis["ip_kind"], vis["ip"]
        self._ips: list[str] | None = None
        visit_visitor, visit_pages = vis["visitor"], vis["pages"]
        n_visits = len(visit_visitor)

        # page views
        page_visit = np.repeat(np.arange(n_visits), visit_pages)
        first = np.cumsum(visit_pages) - visit_pages
        n = len(page_visit)
        k = np.arange(n) - first[page_visit]
        visitor = visit_visitor[page_visit]
        site = self.visitor_site[visitor]
        bot = vis["bot"][visitor]
        u = rng.random(n)
        page = np.empty(n, dtype=np.int64)
        for s in range(len(t.sites)):
            on = site == s
            cum = t.site_cum[s]
            page[on] = t.site_lo[s] + np.searchsorted(cum, u[on] * cum[-1], side="right")
        uri = t.page_uri_base[page] + (rng.random(n) * t.page_uri_n[page]).astype(np.int64)
        kind = (rng.random(n) < NOT_MODIFIED_SHARE).astype(np.int64)
        custom = ~bot & (rng.random(n) < t.custom_p[page])
        delay = np.where(custom, 1_000 + rng.integers(0, 59_000, n), 0)
        long_read, u2 = rng.random(n), rng.random(n)
        human_gap = np.where(
            long_read < LONG_READ_SHARE, 600_000 + (u2 * 900_000).astype(np.int64),
            2_000 + np.minimum(rng.exponential(45_000, n).astype(np.int64), 1_200_000))
        gap = np.where(bot, 500 + (u2 * 19_500).astype(np.int64), human_gap)
        gap[k == 0] = 0
        gap[1:] += np.where(k[1:] > 0, delay[:-1], 0)  # a custom event delays the next page
        elapsed = np.cumsum(gap)
        elapsed -= elapsed[first[page_visit]]
        last = first + visit_pages - 1
        duration = elapsed[last] + delay[last]
        start = vis["start"][visit_visitor]
        again = np.flatnonzero(vis["second"])  # a return visit: after the first one + pause
        start[again] = start[again - 1] + duration[again - 1] + vis["pause"][again - 1]
        time_ms = start[page_visit] + elapsed
        referer = vis["referer"][page_visit]
        referer[k > 0] = t.self_referer_base + page[np.flatnonzero(k > 0) - 1]
        query = np.where(k == 0, vis["query"][page_visit], 0)
        # Asset and error requests of human visits: the normaliser skips them.
        asset = ~bot & (rng.random(n) < ASSET_SHARE)
        asset_uri = rng.integers(0, len(ASSETS), n)[asset]
        not_found = int((~bot & (rng.random(n) < NOT_FOUND_SHARE)).sum())

        # events: the page views, then their custom events
        cust = np.flatnonzero(custom)
        self.ev_visitor = np.concatenate([visitor, visitor[cust]])
        self.ev_uri = np.concatenate([uri, uri[cust]])
        self.ev_kind = np.concatenate([kind, np.full(len(cust), 2)])
        self.ev_referer = np.concatenate([referer, referer[cust]])
        self.ev_query = np.concatenate([query, query[cust]])
        self.ev_time = np.concatenate([time_ms, time_ms[cust] + delay[cust]])
        self.pageviews, self.custom = n, len(cust)
        self.bots = int(bot.sum())
        e = len(self.ev_time)
        skips = [self._skips(request) for request in [(a, 200) for a in ASSETS]
                 + [("/old-page", 404)]]
        self.skipped = int(np.dot(np.bincount(asset_uri, minlength=len(ASSETS)), skips[:-1]))
        self.skipped += not_found * skips[-1]

        # Firehose arrival: ~1.5 s after the request, 10-240 s for one in ten;
        # a few records delivered twice (a producer retry).
        slow, u3 = rng.random(e) < SLOW_ARRIVAL_SHARE, rng.random(e)
        arrival = self.ev_time + np.where(
            slow, 10_000 + (u3 * 230_000).astype(np.int64),
            100 + np.minimum(rng.exponential(1_500, e).astype(np.int64), 60_000))
        twice = np.flatnonzero(rng.random(e) < DUPLICATE_SHARE)
        again_at = arrival[twice] + 1_000 + (rng.random(len(twice)) * 29_000).astype(np.int64)
        self.duplicates = len(twice)
        rec_event = np.concatenate([np.arange(e), twice])
        rec_arrival = np.concatenate([arrival, again_at])
        order = np.argsort(rec_arrival, kind="stable")
        self.rec_event, self.rec_arrival = rec_event[order], rec_arrival[order]

    def _skips(self, request: tuple[str, int]) -> bool:
        """Whether the normaliser skips this asset/error request of the chunk's first visitor."""
        hit = self.event_hit(0)
        hit.uri, hit.status, hit.event_name, hit.declared = request[0], request[1], None, False
        try:
            normalise(hit, self.salts)
        except Skip:
            return True
        return False

    # ------------------------------------------------------------ hits and lines

    def ip(self, v: int) -> str:
        if self._ips is None:
            self._ips = self._visitor_ips()
        return self._ips[v]

    def _visitor_ips(self) -> list[str]:
        """Bots from one range; humans: IPv4 behind NAT (several visitors may share one)
        for 35 %, else IPv6."""
        kind, bits = self.visitor_ip_kind, self.visitor_ip
        family = np.where(self.visitor_ua >= self.t.n_human_uas, 0,
                          np.where(kind < 0.175, 1, np.where(kind < 0.35, 2, 3)))
        v4 = ("198.51.100.", "192.0.2.", "203.0.113.")
        return [f"2001:db8:{a:x}:{b:x}::{c:x}" if f == 3 else f"{v4[f]}{low}"
                for f, low, a, b, c in zip(family.tolist(), (1 + bits % 254).tolist(),
                                           (bits >> 32).tolist(), (bits >> 16 & 0xFFFF).tolist(),
                                           (bits & 0xFFFF).tolist(), strict=True)]

    def event_hit(self, i: int) -> Hit:
        """Event i as the Hit a door would have seen (what normalise is given)."""
        t, v, u, kind = self.t, int(self.ev_visitor[i]), int(self.ev_uri[i]), int(self.ev_kind[i])
        custom = kind == 2
        return Hit(
            time=_EPOCH + dt.timedelta(milliseconds=int(self.ev_time[i])),
            event_id=(self.id_prefix + b"%016x" % i).decode("ascii"),
            host=t.sites[self.visitor_site[v]], uri=t.uris[u], query=t.queries[self.ev_query[i]],
            status=None if custom else (304 if kind == 1 else 200),
            referer=t.referers[self.ev_referer[i]], user_agent=t.uas[self.visitor_ua[v]],
            client_ip=self.ip(v), headers=t.locations[self.visitor_loc[v]],
            event_name=t.custom_name[t.uri_page[u]] if custom else None, declared=custom,
            ingest="simulator",
        )

    def _fragments(self, codes: np.ndarray, fields: tuple[str, ...]) -> list[bytes]:
        """Per event, the encoded `fields`, normalising one hit per distinct code."""
        distinct, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        # Per chunk, no cache across chunks: which hits are normalised depends only on
        # the chunk (the privacy audit notes their IPs and User-Agents).
        frags = [_fragment(normalise(self.event_hit(i), self.salts), fields)
                 for i in first.tolist()]
        return operator.itemgetter(*inverse.tolist())(frags) if len(codes) > 1 else \
            [frags[j] for j in inverse.tolist()]

    def _heads(self) -> list[bytes]:
        """`{"schema_version":1,"event_id":"...","event_time":"...",` per event, built as
        a byte matrix (format_time's layout; the date part from format_time itself)."""
        e = len(self.ev_time)
        start = encode({"schema_version": SCHEMA_VERSION, "event_id": ""})[:-3]
        between = b'","event_time":"'
        width = len(start) + 56 + len(between) + 24 + 2
        m = np.empty((e, width), dtype=np.uint8)
        row = np.frombuffer(start + self.id_prefix + b"0" * 16 + between
                            + b"0000-00-00T00:00:00.000Z" + b'",',
                            dtype=np.uint8)
        m[:] = row
        col = len(start) + len(self.id_prefix)
        counter = np.arange(e, dtype=np.int64)
        for j in range(16 - ((e - 1).bit_length() + 3) // 4, 16):  # leading zeros stay
            m[:, col + j] = _HEX[(counter >> (4 * (15 - j))) & 15]
        col += 16 + len(between)
        day, ms = np.divmod(self.ev_time, _DAY_MS)
        for d in np.unique(day).tolist():
            prefix = format_time(_EPOCH + dt.timedelta(days=d))[:11].encode("ascii")
            m[day == d, col:col + 11] = np.frombuffer(prefix, dtype=np.uint8)
        for offset, value in ((11, ms // 3_600_000), (14, ms // 60_000 % 60),
                              (17, ms // 1000 % 60)):
            m[:, col + offset] = _DIGITS[value // 10]
            m[:, col + offset + 1] = _DIGITS[value % 10]
        millis = ms % 1000
        m[:, col + 20] = _DIGITS[millis // 100]
        m[:, col + 21] = _DIGITS[millis // 10 % 10]
        m[:, col + 22] = _DIGITS[millis % 10]
        return m.view(f"S{width}").ravel().tolist()

    def _visitor_tails(self) -> list[bytes]:
        """`"visitor_id":"...","ingest":"simulator"}\\n` per event: one HMAC per visitor-day."""
        t = self.t
        day = self.ev_time // _DAY_MS
        day0 = int(day.min())
        codes = self.ev_visitor * 4 + (day - day0)
        distinct, inverse = np.unique(codes, return_inverse=True)
        template = encode({"visitor_id": "", "ingest": "simulator"})
        before, after = template[1:15], template[15:]
        salts = {}
        tails = []
        sites, uas = t.site_names, t.uas
        v_site, v_ua = self.visitor_site.tolist(), self.visitor_ua.tolist()
        self.ip(0)
        ips = self._ips
        for code in distinct.tolist():
            v, d = divmod(code, 4)
            salt = salts.get(d)
            if salt is None:
                salt = salts[d] = self.salts.salt_for(
                    (_EPOCH + dt.timedelta(days=day0 + d)).date())
            tails.append(before + visitor_id(salt, sites[v_site[v]], ips[v],
                                             uas[v_ua[v]]).encode("ascii") + after)
        return operator.itemgetter(*inverse.tolist())(tails) if len(codes) > 1 else \
            [tails[j] for j in inverse.tolist()]

    def lines(self) -> list[bytes]:
        """Every event's NDJSON line, by event index."""
        t = self.t
        n_sites, n_locs = len(t.sites), len(t.locations)
        visitor = self.ev_visitor
        parts = (
            self._heads(),
            self._fragments(self.ev_uri * _KINDS + self.ev_kind, _PAGE_FIELDS),
            self._fragments(self.ev_referer * n_sites + self.visitor_site[visitor],
                            _REFERRER_FIELDS),
            self._fragments(self.ev_query, _UTM_FIELDS),
            self._fragments(self.visitor_ua[visitor] * n_locs
                            + self.visitor_loc[visitor], _VIEWER_FIELDS),
            self._visitor_tails(),
        )
        return list(map(b"".join, zip(*parts, strict=True)))

    # ------------------------------------------------------------ delivery

    def objects(self) -> list[tuple[int, int]]:
        """Records [i, j) of each object, cut by LocalFirehose's rules (size, interval,
        arrival day) on the records sorted by arrival."""
        c = self.chunk
        arrival_s = self.rec_arrival / 1000  # the emulator's float seconds
        sizes = self._line_sizes[self.rec_event]
        cum = np.concatenate([[0], np.cumsum(sizes)])
        n = len(arrival_s)
        out, i = [], 0
        while i < n:
            first = float(arrival_s[i])
            day_end = first - first % DAY_SECONDS + DAY_SECONDS
            j = int(np.searchsorted(arrival_s, day_end, side="left"))
            # interval: the first record with now - first >= buffer_seconds, in floats
            k = int(np.searchsorted(self.rec_arrival, int(self.rec_arrival[i])
                                    + int(c.buffer_seconds * 1000), side="left"))
            while k > i + 1 and arrival_s[k - 1] - first >= c.buffer_seconds:
                k -= 1
            while k < n and not arrival_s[k] - first >= c.buffer_seconds:
                k += 1
            s = int(np.searchsorted(cum, cum[i] + c.buffer_bytes, side="right")) - 1
            end = max(i + 1, min(j, k, s))
            out.append((i, end))
            i = end
        return out

    def encoded(self) -> tuple[dict, list[tuple[Path, bytes, int]]]:
        """The chunk's summary and its objects (path, gzip bytes, records), not written."""
        self.generate()
        lines = self.lines()
        self._line_sizes = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        c = self.chunk
        firehose = LocalFirehose(  # names and gzip; the objects are written by the caller
            c.landing, c.stream, buffer_bytes=c.buffer_bytes, buffer_seconds=c.buffer_seconds,
            uuid_factory=self.uuid_factory, compresslevel=c.compresslevel,
        )
        records = operator.itemgetter(*self.rec_event.tolist())(lines) \
            if len(self.rec_event) > 1 else [lines[j] for j in self.rec_event.tolist()]
        files = [(*firehose.encode_object(records[i:j], float(self.rec_arrival[i]) / 1000), j - i)
                 for i, j in self.objects()]
        return {
            "events": len(self.rec_event), "pageviews": self.pageviews,
            "custom_events": self.custom, "bots": self.bots, "duplicates": self.duplicates,
            "skipped": self.skipped, "objects": len(files),
        }, files

    def run(self) -> dict:
        summary, files = self.encoded()
        _write(self.chunk, files)
        return summary


def _write(chunk: Chunk, files: list[tuple[Path, bytes, int]]) -> None:
    firehose = LocalFirehose(chunk.landing, chunk.stream)
    for path, data, count in files:
        firehose.write_object(path, data, count)


_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_log = math.log
_arrival = operator.itemgetter(0)


def simulate_chunk(chunk: Chunk) -> tuple[dict, list[tuple[Path, bytes, int]]]:
    """A chunk's summary and encoded objects: a worker process returns them and the
    parent writes them (each fsync then waits in the parent, not on a worker's core)."""
    return _BatchChunk(chunk).encoded()


def simulate_chunk_per_hit(chunk: Chunk) -> dict:
    """The former path, one `normalise` + `encode` + `put` per hit: the bench's baseline."""
    return _ChunkSimulator(chunk).run()


def warm_user_agent_cache() -> None:
    """Parse the simulator's User-Agents once (crawlerdetect compiles ~0.5 s of regexes)."""
    for ua, *_ in HUMAN_USER_AGENTS + BOT_USER_AGENTS:
        parse_user_agent(ua)


def _process_context():
    """fork shares the warm caches; when the caller runs threads (Dagster, a web server)
    fork is unsafe, so forkserver, whose workers warm their own caches."""
    if sys.platform != "win32" and threading.active_count() == 1:
        warm_user_agent_cache()
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("spawn" if sys.platform == "win32" else "forkserver")
    if sys.platform != "win32":
        ctx.set_forkserver_preload(["edge.simulate"])
    return ctx


# ---------------------------------------------------------------- a run


def _split(total: int, weights) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly (largest remainder)."""
    weights = list(weights)
    exact = [total * w / sum(weights) for w in weights]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def plan(landing: Path, start: dt.date, days: int, pageviews_per_day: int, seed: int,
         stream: str, buffer_bytes: int, buffer_seconds: float,
         compresslevel: int) -> list[Chunk]:
    """Fixed chunks: one per day while a day fits, else per hour (and part of an hour).

    Fewer chunks mean fewer Firehose objects (each chunk has its own buffers); the cut
    depends only on the arguments, so the output never depends on the worker count.
    """
    chunks = []
    for d in range(days):
        day = start + dt.timedelta(days=d)

        def add(hours, quota, day=day):
            parts = max(1, math.ceil(quota / MAX_PAGEVIEWS_PER_CHUNK))
            for part, share in enumerate(_split(quota, [1] * parts)):
                if share:
                    chunks.append(Chunk(str(landing), stream, seed, day, hours, part, share,
                                        buffer_bytes, buffer_seconds, compresslevel))

        if pageviews_per_day <= MAX_PAGEVIEWS_PER_CHUNK:
            add(tuple(range(24)), pageviews_per_day)
        else:
            for hour, quota in enumerate(_split(pageviews_per_day, DIURNAL)):
                add((hour,), quota)
    return chunks


def simulate_to_landing(
    landing: Path,
    start: dt.date,
    days: int,
    pageviews_per_day: int,
    seed: int = 1,
    stream: str = "edgestats",
    *,
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    buffer_seconds: float = SIMULATOR_BUFFER_SECONDS,
    compresslevel: int = 1,
    workers: int | None = None,
) -> dict:
    """Write `days` days of synthetic traffic from `start` into the landing zone.

    Exactly `pageviews_per_day` page views a day (bots' included), plus custom events,
    retried duplicates and skipped asset/error requests.  Returns a summary: events
    (records delivered, duplicates included), pageviews, custom_events, bots (bot
    events), duplicates, skipped, objects, seconds.  gzip level 1 because level 6 would
    cost more than the rest of the simulator; `workers` defaults to the CPU count for
    big runs (the output does not depend on it).
    """
    if days < 1 or pageviews_per_day < 1:
        raise ConfigError("--days and --pageviews-per-day must be at least 1")
    t0 = time.perf_counter()
    Path(landing).mkdir(parents=True, exist_ok=True)
    chunks = plan(Path(landing), start, days, pageviews_per_day, seed, stream,
                  buffer_bytes, buffer_seconds, compresslevel)
    if workers is None:
        workers = (os.cpu_count() or 1) if days * pageviews_per_day >= PARALLEL_FROM else 1
    workers = max(1, min(workers, len(chunks)))
    results = []
    if workers == 1:
        for c in chunks:
            results.append(_BatchChunk(c).run())
    else:
        # Biggest chunks first so the last one to finish is small.
        ordered = sorted(chunks, key=lambda c: -c.pageviews)
        with ProcessPoolExecutor(max_workers=workers, mp_context=_process_context()) as pool:
            for c, (summary, files) in zip(ordered, pool.map(simulate_chunk, ordered),
                                           strict=True):
                _write(c, files)
                results.append(summary)
    summary = {k: sum(r[k] for r in results) for k in results[0]}
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def run_cli(args, settings, landing: Path | None = None, shown: str | None = None) -> int:
    """`edgestats simulate --start D --days N --pageviews-per-day K [--seed S]` into the
    folder `landing` (default: the local landing zone), named `shown` in the summary."""
    landing = landing or settings.landing
    shown = shown or str(landing)
    try:
        s = simulate_to_landing(
            landing, args.start, args.days, args.pageviews_per_day, args.seed,
            settings.firehose_stream, buffer_bytes=settings.firehose_buffer_bytes,
        )
    except OSError as e:
        raise ConfigError(f"cannot write the landing zone {shown}: {e.strerror or e}; "
                          "check EDGESTATS_HOME") from None
    end = args.start + dt.timedelta(days=args.days - 1)
    rate = s["events"] / s["seconds"] if s["seconds"] else 0.0
    print(
        f"simulated {args.start}..{end}: {s['events']:,} events ({s['pageviews']:,} page views, "
        f"{s['custom_events']:,} custom, {s['bots']:,} bot, {s['duplicates']:,} duplicates; "
        f"{s['skipped']:,} assets/errors skipped) in {s['objects']:,} objects under "
        f"{shown} in {s['seconds']:.1f} s ({rate:,.0f} events/s)"
    )
    return 0
