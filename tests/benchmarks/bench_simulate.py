"""`edgestats simulate`: events per second, and the wall time of a 1M page-view day.

The day runs exactly as the command does (`simulate_to_landing`, worker processes over
hourly chunks, real gzip objects on disk).  A single-process run is then split into its
phases to show where the time goes: generating hits, `normalise`, `encode`, and the
Firehose emulator's buffering, gzip and writes.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import edge.simulate as simulate
from edge.normalize import normalise
from edge.salts import MemorySaltStore
from edge.schema import encode
from tests.benchmarks.bench_normalise import realistic_hits

DAY = dt.date(2026, 11, 1)
TARGET_EVENTS_PER_S = 200_000


def figure(name, value, unit, target=None, ok=None, note=""):
    return {"group": "simulate", "name": name, "value": value, "unit": unit,
            "target": target, "ok": ok, "note": note}


def _chunk_cpu(chunk, normalise_fn=None, encode_fn=None) -> tuple[float, float, dict]:
    """CPU seconds of generating (with normalise and encode) and of delivering one chunk."""
    real = simulate.normalise, simulate.encode
    if normalise_fn is not None:
        simulate.normalise, simulate.encode = normalise_fn, encode_fn
    try:
        sim = simulate._ChunkSimulator(chunk)
        deliver = sim.deliver
        sim.deliver = lambda: {}
        c0 = time.process_time()
        sim.run()
        c1 = time.process_time()
        summary = deliver()
        c2 = time.process_time()
    finally:
        simulate.normalise, simulate.encode = real
    return c1 - c0, c2 - c1, summary


def phases(pageviews: int) -> dict:
    """CPU microseconds per event of each phase, in this process, one chunk.

    The generator alone is timed with normalise and encode replaced by constants; the
    difference to the real run is what normalise and encode cost in place (more than
    in isolation: the generator's work between calls evicts their data from the CPU
    caches).
    """
    simulate.warm_user_agent_cache()
    with tempfile.TemporaryDirectory() as tmp:
        chunk = simulate.plan(Path(tmp), DAY, 1, pageviews, 1, "bench", 5 << 20,
                              simulate.SIMULATOR_BUFFER_SECONDS, 1)[0]
        gen_real, deliver, summary = _chunk_cpu(chunk)
        salts = MemorySaltStore(seed=b"bench")
        event = next(normalise(h, salts) for h in realistic_hits(200) if h.event_name is None
                     and not h.uri.endswith(simulate.ASSETS + ("/old-page",)))
        line = encode(event)
        gen_only, _, stub_summary = _chunk_cpu(chunk, lambda hit, salts: event, lambda e: line)
    n = summary["events"]
    generate = gen_only * 1e6 / stub_summary["events"]
    return {"events": n, "total": (gen_real + deliver) * 1e6 / n, "generate": generate,
            "normalise_encode": gen_real * 1e6 / n - generate, "deliver": deliver * 1e6 / n}


def run(quick: bool = False) -> list[dict]:
    pageviews = 100_000 if quick else 1_000_000
    load = os.getloadavg()[0]
    landing = Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    try:
        t0 = time.perf_counter()
        summary = simulate.simulate_to_landing(landing, DAY, 1, pageviews, seed=1)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in landing.rglob("*.gz"))
    finally:
        shutil.rmtree(landing, ignore_errors=True)
    rate = summary["events"] / wall
    workers = os.cpu_count() or 1
    p = phases(20_000 if quick else 50_000)
    single = 1e6 / p["total"]
    breakdown = (f"CPU per event, one process: generating hits {p['generate']:.1f} us, "
                 f"normalise + encode {p['normalise_encode']:.1f} us, Firehose emulator "
                 f"(buffer, gzip -1, write) {p['deliver']:.1f} us")
    return [
        figure(f"simulate, {pageviews:,} page views in one day: events/s", rate, "events/s",
               f">= {TARGET_EVENTS_PER_S:,}", rate >= TARGET_EVENTS_PER_S,
               f"{summary['events']:,} events, {workers} worker processes, 1-min load "
               f"average {load:.1f} on {workers} cores at the start (shared machine). "
               f"{breakdown}. So one core gives ~{single:,.0f} events/s, while the target "
               "needs ~5 us per event per core in all (10 us with 2 cores). normalise runs "
               "unchanged for every event and is the largest part; it costs more in place "
               "than alone (bench normalise), as the generator's work between calls evicts "
               "its caches. Done: UA and step caches, HMAC key pads, table-built "
               "event_time, orjson encode, gzip -1, 900 s buffers, a reused Hit, worker "
               "processes over hourly chunks."),
        figure(f"simulate, {pageviews:,} page-view day: wall time", wall, "s",
               note=f"{summary['objects']} objects, {size / 1e6:.0f} MB gzip in the landing "
                    "zone"),
        figure("simulate, one process: events/s", single, "events/s",
               note=f"{p['events']:,} events, CPU time"),
        figure("simulate, one process: generating hits", p["generate"], "us/event",
               note="the simulator's own work, normalise and encode stubbed out"),
        figure("simulate, one process: normalise + encode", p["normalise_encode"], "us/event",
               note="in place; see bench normalise for them in isolation"),
        figure("simulate, one process: Firehose emulator", p["deliver"], "us/event",
               note="buffering, gzip level 1, atomic writes"),
    ]
