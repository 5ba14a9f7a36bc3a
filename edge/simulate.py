"""Synthetic traffic through the real edge code into the landing zone (`edgestats simulate`).

Every event is built as a `Hit` the way a door would see it (raw User-Agent, client IP
from the documentation ranges, CloudFront viewer headers, un-normalised URIs) and goes
through `normalise` -> `encode` -> `LocalFirehose.put`, so the pipeline downstream sees
exactly what production traffic would give it, including assets and errors the
normaliser skips, retried deliveries (same event_id twice) and events that arrive after
midnight.

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

from edge.config import ConfigError
from edge.firehose import DEFAULT_BUFFER_BYTES, LocalFirehose
from edge.normalize import Hit, Skip, normalise
from edge.salts import MemorySaltStore
from edge.schema import encode
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


def _cumulative(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def _headers(country, region, city, tz) -> dict[str, str]:
    pairs = (("cloudfront-viewer-country", country), ("cloudfront-viewer-country-region", region),
             ("cloudfront-viewer-city", city), ("cloudfront-viewer-time-zone", tz))
    return {k: v for k, v in pairs if v is not None}


class _ChunkSimulator:
    """Generates, normalises and delivers one chunk's events; counts what it did.

    Written for speed (the simulator's target is ~5 us per event): local names, one
    reused `Hit` per chunk, no per-event helper objects.
    """

    def __init__(self, chunk: Chunk):
        self.chunk = chunk
        hours = "-".join(map(str, chunk.hours))
        tag = f"edgestats-simulator:{chunk.seed}:{chunk.day.isoformat()}:{hours}:{chunk.part}"
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


_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_log = math.log
_arrival = operator.itemgetter(0)


def simulate_chunk(chunk: Chunk) -> dict:
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
    if workers == 1:
        results = [simulate_chunk(c) for c in chunks]
    else:
        # Biggest chunks first so the last one to finish is small.
        ordered = sorted(chunks, key=lambda c: -c.pageviews)
        with ProcessPoolExecutor(max_workers=workers, mp_context=_process_context()) as pool:
            results = list(pool.map(simulate_chunk, ordered))
    summary = {k: sum(r[k] for r in results) for k in results[0]}
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def run_cli(args, settings) -> int:
    """`edgestats simulate --start D --days N --pageviews-per-day K [--seed S]`."""
    try:
        s = simulate_to_landing(
            settings.landing, args.start, args.days, args.pageviews_per_day, args.seed,
            settings.firehose_stream, buffer_bytes=settings.firehose_buffer_bytes,
        )
    except OSError as e:
        raise ConfigError(f"cannot write the landing zone {settings.landing}: {e.strerror or e}; "
                          "check EDGESTATS_HOME") from None
    end = args.start + dt.timedelta(days=args.days - 1)
    rate = s["events"] / s["seconds"] if s["seconds"] else 0.0
    print(
        f"simulated {args.start}..{end}: {s['events']:,} events ({s['pageviews']:,} page views, "
        f"{s['custom_events']:,} custom, {s['bots']:,} bot, {s['duplicates']:,} duplicates; "
        f"{s['skipped']:,} assets/errors skipped) in {s['objects']:,} objects under "
        f"{settings.landing} in {s['seconds']:.1f} s ({rate:,.0f} events/s)"
    )
    return 0
