"""What the collector loses when killed, and delivers when stopped (issues 7 and 12).

The same scenarios as tests/reliability/test_collector_load.py, with the numbers kept:
`edgestats collect` in a subprocess, the pipelined load generator of
tests/reliability/loadgen.py, unique page paths so every landed event is matched to its
request.

- SIGTERM after 50,000 mixed requests: events missing and duplicated (both must be 0).
- SIGKILL after 12,000 answered requests, with 64 KiB / 1 s buffers and with the default
  5 MiB / 60 s, then a restart on the same home (it replays the write-ahead log), 2,000
  more requests and SIGTERM: answered events missing, and event ids landed twice (both
  must be 0: a 200/204 is a kept event, edge/wal.py).
"""

from __future__ import annotations

import gzip
import os
import signal
import tempfile
from collections import Counter
from pathlib import Path

from tests.benchmarks.figures import figure_maker
from tests.reliability.loadgen import (
    CollectorProcess,
    landed_events,
    landed_objects,
    load,
    marker,
    request_mix,
)

LOAD = 50_000
KILL_AFTER = 12_000
AFTER_RESTART = 2_000
# The same kill and restart on the code before the write-ahead log (ad43e85), measured
# with tests/reliability/test_collector_load.py on 2026-12-03.
BEFORE_WAL = {"64 KiB / 1 s buffers": "340 of 12,002", "default 5 MiB / 60 s buffers":
              "12,006 of 12,006"}


figure = figure_maker("reliability")


def sigterm(count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgestats-bench-term-") as tmp:
        home = Path(tmp)
        requests = request_mix(count)
        collector = CollectorProcess(home)
        try:
            result = load(collector.port, requests, connections=8, window=32)
        finally:
            collector.proc.send_signal(signal.SIGTERM)
            code, _ = collector.wait()
        landed = Counter(marker(e) for e in landed_events(home / "landing"))
    accepted = result.accepted()
    expected = Counter((r.kind, r.n) for r in requests if r.n in accepted)
    return {"seconds": result.seconds, "accepted": len(accepted), "code": code,
            "missing": sum((expected - landed).values()),
            "duplicates": sum(n - 1 for n in landed.values() if n > 1),
            "extra": sum((landed - expected).values())}


def sigkill_then_restart(buffer_bytes: int | None) -> dict:
    env = {"EDGESTATS_FIREHOSE_BUFFER_SECONDS": "1"} if buffer_bytes else {}
    if buffer_bytes:
        env["EDGESTATS_FIREHOSE_BUFFER_BYTES"] = str(buffer_bytes)
    with tempfile.TemporaryDirectory(prefix="edgestats-bench-kill-") as tmp:
        home = Path(tmp)
        collector = CollectorProcess(home, env=env)
        try:
            killed = load(collector.port, request_mix(20_000, seed=2), connections=8,
                          window=32, stop_after=KILL_AFTER, on_stop=collector.kill_now)
        finally:
            collector.kill_now()
            collector.wait()
        at_kill = {n for _, n in map(marker, landed_events(home / "landing"))}
        segments = len(list((home / "wal").glob("*.wal")))
        restarted = CollectorProcess(home, env=env)
        try:
            after = load(restarted.port, request_mix(AFTER_RESTART, seed=3, first=20_000),
                         connections=8, window=32)
        finally:
            restarted.proc.send_signal(signal.SIGTERM)
            code, _ = restarted.wait()
        objects = landed_objects(home / "landing")
        for p in objects:
            gzip.decompress(p.read_bytes())  # raises on a partial object
        events = landed_events(home / "landing")
    ids = Counter(e["event_id"] for e in events)
    landed = {n for _, n in map(marker, events)}
    answered = killed.accepted() | after.accepted()
    return {"killed": len(killed.accepted()), "after": len(after.accepted()),
            "only_in_log": len(killed.accepted() - at_kill), "segments": segments,
            "missing": len(answered - landed), "duplicates": sum(v - 1 for v in ids.values()),
            "invented": len(landed - killed.sent - after.sent), "objects": len(objects),
            "code": code}


def run(quick: bool = False) -> list[dict]:
    count = 5_000 if quick else LOAD
    load_before = os.getloadavg()[0]
    term = sigterm(count)
    figures = [figure(
        f"collector, {count:,} mixed requests then SIGTERM: events missing or duplicated",
        term["missing"] + term["duplicates"] + term["extra"], "events", target="0",
        ok=term["missing"] + term["duplicates"] + term["extra"] == 0 and term["code"] == 0,
        note=f"{term['accepted']:,} answered 200/204 in {term['seconds']:.1f} s over 8 pipelined "
             f"connections; {term['missing']} missing, {term['duplicates']} duplicated, "
             f"{term['extra']} unexpected; exit code {term['code']}; load average "
             f"{load_before:.1f} before (2 shared cores)")]
    for buffer_bytes, label in ((64 * 1024, "64 KiB / 1 s buffers"),
                                (None, "default 5 MiB / 60 s buffers")):
        k = sigkill_then_restart(buffer_bytes)
        bad = k["missing"] + k["duplicates"] + k["invented"]
        figures.append(figure(
            f"collector SIGKILL after {KILL_AFTER:,} answers, {label}, restart: answered "
            "events missing or duplicated", bad, "events", target="0",
            ok=bad == 0 and k["code"] == 0,
            note=f"{k['killed']:,} answered before the kill, {k['only_in_log']:,} of them only "
                 f"in the {k['segments']} write-ahead segments left; restart, "
                 f"{k['after']:,} more answered, SIGTERM: {k['missing']} missing, "
                 f"{k['duplicates']} event ids twice, {k['invented']} never sent; "
                 f"{k['objects']} whole gzip objects; before the write-ahead log the same "
                 f"kill lost {BEFORE_WAL[label]} answered events"))
    return figures


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick=True), indent=1))
