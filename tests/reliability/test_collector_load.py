"""`edgestats collect` under load, stopped cleanly and killed: what lands, exactly.

An answered request is a kept event (edge/wal.py): after a SIGKILL and a restart, every
request answered 200/204 has landed exactly once.

A real collector subprocess on 127.0.0.1 (`--port 0`), a pipelined asyncio client in this
process (`loadgen`), bounded request counts; each request has a unique page path, so
every landed event is matched to the one request that made it.
"""

from __future__ import annotations

import gzip
import re
import signal
from collections import Counter

import pytest

from edge.schema import validate
from tests.reliability.loadgen import (
    CollectorProcess,
    landed_events,
    load,
    marker,
    request_mix,
)

pytestmark = pytest.mark.timeout(300)

LOAD_REQUESTS = 50_000
EXPECTED_STATUS = {"edge": 200, "pixel": 200, "beacon": 204}


def test_50k_mixed_requests_land_exactly_once_after_sigterm(tmp_path):
    requests = request_mix(LOAD_REQUESTS)
    collector = CollectorProcess(tmp_path / "home")  # default buffering: 60 s / 5 MiB
    try:
        result = load(collector.port, requests, connections=8, window=32)
    finally:
        collector.proc.send_signal(signal.SIGTERM)
        code, out = collector.wait()
    print(f"\n{LOAD_REQUESTS:,} requests in {result.seconds:.1f} s "
          f"({LOAD_REQUESTS / result.seconds:,.0f} req/s, 8 pipelined connections)")
    assert code == 0, collector.log.read_text()[-2000:]
    assert not result.errors
    kinds = {r.n: r.kind for r in requests}
    assert len(result.answered) == LOAD_REQUESTS
    wrong = {n: s for n, s in result.answered.items() if s != EXPECTED_STATUS[kinds[n]]}
    assert wrong == {}

    events = landed_events(tmp_path / "home" / "landing")
    ids = Counter(e["event_id"] for e in events)
    assert len(ids) == len(events), "an event_id landed twice"
    landed = Counter(marker(e) for e in events)
    assert landed == Counter((r.kind, r.n) for r in requests)  # each request exactly once
    assert all(e["ingest"] == marker(e)[0] for e in events)  # and through its own door
    by_kind = Counter(e["ingest"] for e in events)
    assert by_kind == Counter(r.kind for r in requests)
    assert by_kind["edge"] > 30_000 and by_kind["pixel"] > 8_000 and by_kind["beacon"] > 3_000
    assert f"stopped after {LOAD_REQUESTS} requests: {LOAD_REQUESTS} events" in out
    assert not list((tmp_path / "home" / "landing").rglob("*.tmp"))


def kill_restart_stop(home, env: dict[str, str], first: list, kill_after: int,
                      second: list) -> dict:
    """Load, SIGKILL after `kill_after` answers, restart on the same home, load `second`,
    SIGTERM; what was answered and what landed, request by request."""
    collector = CollectorProcess(home, env=env)
    try:
        killed = load(collector.port, first, connections=8, window=32, stop_after=kill_after,
                      on_stop=collector.kill_now)
    finally:
        collector.kill_now()
        code, _ = collector.wait()
    assert code == -signal.SIGKILL
    segments_left = sorted((home / "wal").glob("*.wal"))
    landed_at_kill = {n for _, n in map(marker, landed_events(home / "landing"))}
    restarted = CollectorProcess(home, env=env)
    try:
        after = load(restarted.port, second, connections=8, window=32)
    finally:
        restarted.proc.send_signal(signal.SIGTERM)
        code, out = restarted.wait()
    assert code == 0, restarted.log.read_text()[-2000:]
    events = landed_events(home / "landing")
    return {"killed": killed, "after": after, "out": out, "events": events,
            "segments_left": segments_left,
            "only_in_the_log": killed.accepted() - landed_at_kill,
            "landed": Counter(marker(e) for e in events),
            "ids": Counter(e["event_id"] for e in events)}


KILL_BUFFERS = {
    "default-5MiB-60s": {},  # what `edgestats collect` runs with: all of it is in the log
    "64KiB-1s": {"EDGESTATS_FIREHOSE_BUFFER_BYTES": str(64 * 1024),  # many objects published
                 "EDGESTATS_FIREHOSE_BUFFER_SECONDS": "1"},  # around the kill
}


@pytest.mark.parametrize("buffers", list(KILL_BUFFERS))
def test_sigkill_mid_load_then_restart_loses_and_duplicates_no_answered_event(tmp_path,
                                                                             buffers):
    home = tmp_path / "home"
    first, second = request_mix(20_000, seed=2), request_mix(2_000, seed=3, first=20_000)
    run = kill_restart_stop(home, KILL_BUFFERS[buffers], first, 12_000, second)
    killed, after, landed = run["killed"], run["after"], run["landed"]
    answered = killed.accepted() | after.accepted()
    landed_n = {n for _, n in landed}
    missing = answered - landed_n
    print(f"\nSIGKILL after {len(killed.accepted()):,} answered requests ({buffers} buffers), "
          f"{len(run['only_in_the_log']):,} of them only in the {len(run['segments_left'])} "
          "write-ahead segments left; restart, "
          f"{len(after.accepted()):,} more, SIGTERM: {len(run['events']):,} events landed, "
          f"{len(missing)} answered missing, "
          f"{sum(v - 1 for v in run['ids'].values())} duplicated event ids, "
          f"{len(landed_n - killed.sent - after.sent)} never sent")
    assert len(killed.accepted()) >= 12_000
    assert missing == set()  # every 200/204 is a kept event
    assert max(run["ids"].values()) == 1, "an event_id landed twice"
    assert max(landed.values()) == 1, "a request landed twice"
    assert landed_n <= killed.sent | after.sent  # nothing invented
    assert not after.errors and len(after.accepted()) == len(second)
    for e in run["events"]:
        assert validate(e) == [], e
    # answered events that were only in the write-ahead log at the kill were landed by
    # the restart (with the default buffers, the ~2,500 after the first 5 MiB object; 0
    # to ~300 with 64 KiB ones); a clean stop empties the log
    if buffers.startswith("default"):
        assert len(run["only_in_the_log"]) > 1_000
    if run["only_in_the_log"]:
        assert re.search(r"^replayed [1-9]\d* events a collector that did not stop cleanly",
                         run["out"], re.M), run["out"]
    assert [p.name for p in (home / "wal").iterdir()] == [".lock"]
    files = [p for p in (home / "landing").rglob("*") if p.is_file()]
    assert all(p.suffix == ".gz" and not p.name.startswith(".") for p in files)
    for p in files:  # whole objects only
        assert gzip.decompress(p.read_bytes()).endswith(b"\n")
