"""The normaliser: microseconds per event on the simulator's realistic traffic mix.

The hits are the ones `edgestats simulate` builds (real User-Agent mix with ~5% bots,
CloudFront viewer headers, referrers, UTM tags, un-normalised paths, assets that are
skipped), captured on their way into `normalise`.  Warm: the User-Agent cache holds
every UA, as in a long-running collector or a warm Lambda.  Cold: every hit carries a
User-Agent never seen before (the mix's strings with a unique last version number, so
ua-parser's own cache misses too) and our UA cache is cleared before each call: each
event pays a full ua-parser + crawlerdetect parse, as the first request of a new UA does.  The baseline is the skeleton's normaliser
(commit 490456c, before the speed work), loaded from git and timed on the same hits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import edge.simulate as simulate
from edge.normalize import Skip, normalise
from edge.salts import MemorySaltStore
from edge.schema import encode
from edge.useragent import parse_user_agent
from tests.benchmarks.figures import figure_maker

ROOT = Path(__file__).resolve().parents[2]
BASELINE_COMMIT = "490456c"
TARGET_MEDIAN_US = 50.0


def realistic_hits(pageviews: int) -> list:
    """The Hits one simulated day of `pageviews` page views feeds the normaliser."""
    captured = []
    real = simulate.normalise

    def capture(hit, salts):
        captured.append(dataclasses.replace(hit))
        return real(hit, salts)

    chunk = simulate.plan(Path(tempfile.gettempdir()), dt.date(2026, 11, 20), 1, pageviews, 1,
                          "bench", 5 << 20, 900.0, 1)[0]
    sim = simulate._ChunkSimulator(chunk)
    sim.deliver = lambda: {}  # nothing is written: only the hits are wanted
    simulate.normalise = capture
    try:
        sim.run()
    finally:
        simulate.normalise = real
    return captured


_LAST_NUMBER = re.compile(r"\d+(?!.*\d)")


def never_seen(hits: list) -> list:
    """The same hits with User-Agents no cache has seen: a unique last version number."""
    return [dataclasses.replace(h, user_agent=_LAST_NUMBER.sub(str(90_000 + i), h.user_agent or "x"))
            for i, h in enumerate(hits)]


def time_calls(fn, hits, salts, before=None) -> list[float]:
    """Microseconds per call, one timing per hit."""
    out = []
    clock = time.perf_counter_ns
    for hit in hits:
        if before is not None:
            before()
        t0 = clock()
        try:
            fn(hit, salts)
        except Skip:
            pass
        except Exception as e:  # the baseline module raises its own Skip class
            if type(e).__name__ != "Skip":
                raise
        out.append((clock() - t0) / 1000)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def load_baseline():
    """The pre-optimisation normaliser from git, or None without the history."""
    try:
        source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:edge/normalize.py"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "normalize_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("normalize_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["normalize_baseline"] = module
    spec.loader.exec_module(module)
    return module


figure = figure_maker("normalise")


def run(quick: bool = False) -> list[dict]:
    hits = realistic_hits(5_000 if quick else 40_000)
    cold_hits = never_seen(hits[:: max(1, len(hits) // (200 if quick else 1_000))])
    salts = MemorySaltStore(seed=b"bench")
    bots = sum(parse_user_agent(h.user_agent or "").is_bot for h in hits) / len(hits)
    distinct = len({h.user_agent for h in hits})
    load = os.getloadavg()[0]
    mix = (f"{len(hits):,} hits from the simulator ({distinct} distinct UAs, "
           f"{bots:.0%} bots, assets included); 1-min load average {load:.1f} on "
           f"{os.cpu_count()} cores while measuring")

    for h in hits[:2_000]:  # warm the UA cache and the step caches
        try:
            normalise(h, salts)
        except Skip:
            pass
    warm = time_calls(normalise, hits, salts)
    cold = time_calls(normalise, cold_hits, salts, before=parse_user_agent.cache_clear)
    events = []
    for h in hits:
        try:
            events.append(normalise(h, salts))
        except Skip:
            pass
    t0 = time.perf_counter()
    for e in events:
        encode(e)
    encode_us = (time.perf_counter() - t0) / len(events) * 1e6

    median = statistics.median(warm)
    figures = [
        figure("normalise, warm UA cache, median", median, "us/event",
               f"<= {TARGET_MEDIAN_US:.0f} us", median <= TARGET_MEDIAN_US, mix),
        figure("normalise, warm UA cache, p99", p99(warm), "us/event"),
        figure("normalise, warm UA cache, throughput", 1e6 / statistics.mean(warm),
               "events/s", note="one core, mean of the per-call times"),
        figure("normalise, cold UA cache, median", statistics.median(cold), "us/event",
               note=f"{len(cold_hits)} hits, each with a User-Agent never seen before: a "
                    "full ua-parser + crawlerdetect parse every time"),
        figure("normalise, cold UA cache, p99", p99(cold), "us/event"),
        figure("encode (NDJSON line)", encode_us, "us/event",
               note="orjson with byte-identical json fallback for non-ASCII"),
    ]

    baseline = load_baseline()
    if baseline is not None:
        base_salts = baseline.MemorySaltStore(seed=b"bench") if hasattr(
            baseline, "MemorySaltStore") else MemorySaltStore(seed=b"bench")
        base_hits = [baseline.Hit(**{f.name: getattr(h, f.name)
                                     for f in dataclasses.fields(h)}) for h in hits]
        for h in base_hits[:2_000]:
            try:
                baseline.normalise(h, base_salts)
            except Exception:  # noqa: S112 - its own Skip class
                continue
        before = statistics.median(time_calls(baseline.normalise, base_hits, base_salts))
        figures.append(figure(
            f"normalise before the speed work ({BASELINE_COMMIT}), warm, median", before,
            "us/event", note=f"same hits, same run: {before / median:.1f}x slower than now"))
    return figures
