"""`edgestats simulate`: events per second, and the wall time of a 1M page-view day.

The day runs exactly as the command does (`simulate_to_landing`: worker processes over
hourly chunks, each drawing its traffic as columns and assembling lines from fragments
the normaliser made once per distinct input; the parent writes the gzip objects), then
once more as the command itself from a shell, interpreter start included.  One chunk is
then split into its phases in one process, and set beside the per-hit baseline: the
same events through `normalise` + `encode` one by one, and the former per-hit simulator.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import edge.firehose as firehose
import edge.simulate as simulate
from edge.schema import encode
from tests.benchmarks.figures import figure_maker

DAY = dt.date(2026, 11, 1)
TARGET_EVENTS_PER_S = 200_000
BEFORE = "53,380 events/s (1M-page-view day in 19.3 s) with one normalise+encode+put per hit"


figure = figure_maker("simulate")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def day_in_process(pageviews: int) -> dict:
    landing = Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    try:
        load = os.getloadavg()[0]
        c0, t0 = _cpu(), time.perf_counter()
        summary = simulate.simulate_to_landing(landing, DAY, 1, pageviews, seed=1)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        size = sum(p.stat().st_size for p in landing.rglob("*.gz"))
    finally:
        shutil.rmtree(landing, ignore_errors=True)
    return summary | {"wall": wall, "cpu": cpu, "size": size, "load": load}


def day_from_shell(pageviews: int) -> tuple[float, str]:
    """`edgestats simulate` as a user types it: wall time including Python's start."""
    home = Path(tempfile.mkdtemp(prefix="bench-simulate-cli-"))
    try:
        env = dict(os.environ, EDGESTATS_HOME=str(home))
        cmd = [str(Path(sys.executable).with_name("edgestats")), "simulate", "--start",
               DAY.isoformat(), "--days", "1", "--pageviews-per-day", str(pageviews)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return time.perf_counter() - t0, out.stdout.strip()
    finally:
        shutil.rmtree(home, ignore_errors=True)


class _Clock:
    """CPU seconds spent inside wrapped callables, by phase."""

    def __init__(self):
        self.spent: dict[str, float] = {}

    def wrap(self, phase, fn):
        def timed(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.spent[phase] = self.spent.get(phase, 0.0) + time.process_time() - c0
        return timed


def phases(pageviews: int) -> dict:
    """One chunk in this process: CPU microseconds per event by phase; the write
    (fsync) by the wall clock."""
    simulate.warm_user_agent_cache()
    clock = _Clock()
    normalised = []
    real_normalise, real_gzip = simulate.normalise, firehose._gzip
    with tempfile.TemporaryDirectory() as tmp:
        chunk = simulate.plan(Path(tmp), DAY, 1, pageviews, 1, "bench", 5 << 20,
                              simulate.SIMULATOR_BUFFER_SECONDS, 1)[0]
        sim = simulate._BatchChunk(chunk)
        for phase, name in (("generate", "generate"), ("heads", "_heads"),
                            ("fragments", "_fragments"), ("visitor ids", "_visitor_tails")):
            setattr(sim, name, clock.wrap(phase, getattr(sim, name)))
        simulate.normalise = lambda hit, salts: normalised.append(1) or real_normalise(hit, salts)
        firehose._gzip = clock.wrap("gzip", real_gzip)
        try:
            c0 = time.process_time()
            summary, files = sim.encoded()
            total = time.process_time() - c0
        finally:
            simulate.normalise, firehose._gzip = real_normalise, real_gzip
        t0 = time.perf_counter()
        simulate._write(chunk, files)
        write = time.perf_counter() - t0

        # The per-hit baseline on the very same events: normalise + encode each.
        salts = simulate.MemorySaltStore(seed=f"edgestats-simulator:{chunk.seed}".encode())
        hits = [sim.event_hit(i) for i in range(len(sim.ev_time))]
        c0 = time.process_time()
        for h in hits:
            encode(simulate.normalise(h, salts))
        per_hit = time.process_time() - c0
    n = summary["events"]
    us = {k: v * 1e6 / n for k, v in clock.spent.items()}
    us["assemble"] = total * 1e6 / n - sum(us.values())  # joins, object cuts, names
    return {"events": n, "total": total * 1e6 / n, "write": write * 1e6 / n, "us": us,
            "normalise calls": len(normalised), "per_hit": per_hit * 1e6 / len(hits),
            "hits": len(hits)}


def old_path(pageviews: int) -> float:
    """CPU us/event of the former simulator (one normalise + encode + put per hit)."""
    with tempfile.TemporaryDirectory() as tmp:
        chunk = simulate.plan(Path(tmp), DAY, 1, pageviews, 2, "bench", 5 << 20,
                              simulate.SIMULATOR_BUFFER_SECONDS, 1)[0]
        c0 = time.process_time()
        summary = simulate.simulate_chunk_per_hit(chunk)
        return (time.process_time() - c0) * 1e6 / summary["events"]


def run(quick: bool = False) -> list[dict]:
    pageviews = 100_000 if quick else 1_000_000
    day = day_in_process(pageviews)
    shell_wall, shell_out = day_from_shell(pageviews)
    p = phases(20_000 if quick else 50_000)
    old = old_path(10_000 if quick else 20_000)
    rate = day["events"] / day["wall"]
    workers = os.cpu_count() or 1
    us = p["us"]
    breakdown = ", ".join(f"{k} {v:.2f} us" for k, v in us.items())
    return [
        figure(f"simulate, {pageviews:,} page views in one day: events/s", rate, "events/s",
               f">= {TARGET_EVENTS_PER_S:,}", rate >= TARGET_EVENTS_PER_S,
               f"{day['events']:,} events in {day['wall']:.2f} s, {workers} worker processes "
               f"(1-min load average {day['load']:.1f} on {workers} shared cores at the "
               f"start); {day['cpu'] * 1e6 / day['events']:.2f} us CPU per event, all "
               f"processes. Before: {BEFORE}. Now: traffic drawn as numpy columns per chunk; "
               "normalise runs once per distinct page URI x status, referrer x site, UTM "
               "query and User-Agent x location, visitor_id once per visitor-day, and each "
               "line is joined from those encoded fragments plus its event id and time "
               "(tests/edge/test_simulate_fast.py: byte-identical to normalise+encode per "
               "hit); ISA-L gzip; workers encode objects, the parent writes them."),
        figure(f"edgestats simulate --days 1 --pageviews-per-day {pageviews:,} from a shell",
               shell_wall, "s",
               note=f"wall time, Python start and imports included; it printed: "
                    f"{shell_out.split(' in ', 1)[-1] if ' in ' in shell_out else shell_out}"),
        figure(f"simulate, {pageviews:,} page-view day: wall time", day["wall"], "s",
               note=f"{day['objects']} objects, {day['size'] / 1e6:.0f} MB gzip in the "
                    "landing zone"),
        figure("simulate, one process, batch path: events/s", 1e6 / p["total"], "events/s",
               note=f"{p['events']:,} events of one chunk, CPU time, {p['normalise calls']} "
                    f"normalise calls (one per distinct input). CPU per event: {breakdown}"),
        figure("simulate, one process, batch path: CPU per event", p["total"], "us/event",
               note="target budget: 10 us per event per core for 200,000 events/s on 2 cores"),
        figure("simulate, one process: writing the objects", p["write"], "us/event",
               note="wall clock (fsync waits), in the parent during a run, overlapping the "
                    "workers"),
        figure("per-hit baseline: normalise + encode of the same events", p["per_hit"],
               "us/event", note=f"{p['hits']:,} hits one by one, CPU time; what the batch "
                                "path replaces"),
        figure("per-hit baseline: the former simulator, one process", 1e6 / old, "events/s",
               note=f"{old:.1f} us CPU per event (generate a Hit, normalise, encode, "
                    "LocalFirehose.put); simulate_chunk_per_hit"),
    ]
