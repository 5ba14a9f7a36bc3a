"""`edgestats collect` killed at each step of making an event durable, then restarted.

A real collector subprocess under real HTTP load, with one failpoint: a wrapper around
one `os` call in that process that SIGKILLs it just before or just after the call, at
the step named.  Everything else is the real code on real files.  Then a restart on the
same home (which replays the write-ahead log), more load, SIGTERM, and the invariant:
every request answered 200/204 landed exactly once (by its unique path and by
event_id), and nothing landed that was not sent.  Each test also checks that the kill
left the state it is named after, so none can pass without reaching it.

The SIGKILL-at-a-random-moment version is in test_collector_load.py; the states a
power cut can leave (torn tails) are built file by file in tests/edge/test_wal.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest

from edge.wal import read_frames
from tests.reliability.loadgen import (
    ROOT,
    CollectorProcess,
    landed_events,
    load,
    marker,
    request_mix,
)

pytestmark = pytest.mark.timeout(300)

SMALL_BUFFERS = {"EDGESTATS_FIREHOSE_BUFFER_BYTES": str(64 * 1024),  # ~110 events an object
                 "EDGESTATS_FIREHOSE_BUFFER_SECONDS": "60"}


def failpoint(call: str, when: str, match: str, nth: int = 1) -> str:
    """Python run before `edgestats collect`: SIGKILL `when` ("before"/"after") the `nth`
    call of `os.<call>` whose first path argument ends with `match`."""
    return f"""
import os, signal
_real, _seen = os.{call}, [0]
def _failpoint(*args, **kwargs):
    hit = str(args[-1] if {call!r} == "replace" else args[0]).endswith({match!r})
    if hit:
        _seen[0] += 1
    if hit and _seen[0] == {nth} and {when!r} == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = _real(*args, **kwargs)
    if hit and _seen[0] == {nth} and {when!r} == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
os.{call} = _failpoint
"""


FDATASYNC_FAILPOINT = """
import os, signal
_real, _seen = os.fdatasync, [0]
def _failpoint(fd):
    _real(fd)
    _seen[0] += 1
    if _seen[0] == 40:  # durable, but the loop has not been told: nothing answered yet
        os.kill(os.getpid(), signal.SIGKILL)
os.fdatasync = _failpoint
"""


def logged(home) -> set[int]:
    """Request numbers of the events in the write-ahead log."""
    return {marker(json.loads(r))[1] for p in (home / "wal").glob("*.wal")
            for r in read_frames(p.read_bytes())[1:]}


def objects(home) -> set[str]:
    return {p.relative_to(home / "landing").as_posix() for p in (home / "landing").rglob("*.gz")}


def segments(home) -> dict[str, tuple[str, int]]:
    """{segment file: (its object, records in it)} of what the write-ahead log holds."""
    out = {}
    for p in sorted((home / "wal").glob("*.wal")):
        frames = read_frames(p.read_bytes())
        out[p.name] = (json.loads(frames[0])["object"] if frames else "", len(frames) - 1)
    return out


def crash_then_recover(home, prelude: str, env=SMALL_BUFFERS) -> dict:
    """Load until the failpoint kills the collector; restart, load, SIGTERM."""
    first = request_mix(3_000, seed=11)
    collector = CollectorProcess(home, env=env, python_prelude=prelude)
    try:
        crashed = load(collector.port, first, connections=8, window=32)
    finally:
        code, _ = collector.wait()
    assert code == -signal.SIGKILL, collector.log.read_text()[-2000:]
    state = {"segments": segments(home),
             "objects": objects(home),
             "logged": logged(home),
             "temporary": sorted(p.name for p in (home / "landing").rglob("*.tmp")),
             "landed": {n for _, n in map(marker, landed_events(home / "landing"))}}
    second = request_mix(500, seed=12, first=10_000)
    restarted = CollectorProcess(home, env=env)
    try:
        after = load(restarted.port, second, connections=4, window=16)
    finally:
        restarted.proc.send_signal(signal.SIGTERM)
        code, out = restarted.wait()
    assert code == 0, restarted.log.read_text()[-2000:]
    assert_exactly_once(home, [crashed, after])
    assert not after.errors and len(after.accepted()) == len(second)
    landed = {n for _, n in map(marker, landed_events(home / "landing"))}
    assert state["logged"] <= landed  # whatever the log held landed, answered or not
    return {"crashed": crashed, "state": state, "out": out}


def assert_exactly_once(home, results) -> None:
    events = landed_events(home / "landing")
    ids = Counter(e["event_id"] for e in events)
    landed = Counter(marker(e) for e in events)
    answered = set().union(*(r.accepted() for r in results))
    landed_n = {n for _, n in landed}
    assert answered - landed_n == set(), "an answered event is missing"
    assert max(ids.values()) == 1, "an event_id landed twice"
    assert max(landed.values()) == 1, "a request landed twice"
    assert landed_n <= set().union(*(r.sent for r in results)), "an event nobody sent"
    assert [p.name for p in (home / "wal").iterdir()] == [".lock"]


def replayed(out: str) -> int:
    m = re.search(r"^replayed (\d+) events", out, re.M)
    return int(m.group(1)) if m else 0


def test_killed_after_an_object_was_written_but_before_its_rename(tmp_path):
    home = tmp_path / "home"
    run = crash_then_recover(home, failpoint("replace", "before", ".gz", nth=3))
    state = run["state"]
    assert len(state["temporary"]) == 1  # the third object, written and fsynced
    unnamed = state["temporary"][0][1:-len(".tmp")]
    (in_segment,) = [n for o, n in state["segments"].values() if o.endswith("/" + unnamed)]
    assert len(state["objects"]) == 2
    # the object never got its name; its segment's events (those committed before the
    # kill) landed from the log under that name, replacing the temporary file
    assert in_segment > 0 and replayed(run["out"]) >= in_segment
    assert not list((home / "landing").rglob("*.tmp"))


def test_killed_after_the_rename_before_the_folder_was_synced(tmp_path):
    home = tmp_path / "home"
    run = crash_then_recover(home, failpoint("replace", "after", ".gz", nth=3))
    state = run["state"]
    assert len(state["objects"]) == 3
    # the renamed object's segment is still there: the overlap replay must not land twice
    overlap = [o for o, _ in state["segments"].values() if o in state["objects"]]
    assert len(overlap) >= 1


def test_killed_after_publishing_before_the_segment_was_deleted(tmp_path):
    """The overlap of the issue: a published object and its whole segment, both on disk."""
    home = tmp_path / "home"
    run = crash_then_recover(home, failpoint("unlink", "before", ".wal", nth=2))
    state = run["state"]
    overlap = {o: n for o, n in state["segments"].values() if o in state["objects"]}
    # at least the segment being deleted; others whose publication the log's thread had
    # not reached yet may overlap too
    assert overlap and max(overlap.values()) > 100, state["segments"]
    assert len(state["objects"]) >= 2


def test_killed_after_a_commit_was_durable_before_it_was_answered(tmp_path):
    home = tmp_path / "home"
    run = crash_then_recover(home, FDATASYNC_FAILPOINT)
    state = run["state"]
    # the log holds events never answered: they land too (the client saw no answer, so
    # none is a duplicate of anything it was told)
    assert state["logged"] - run["crashed"].accepted()


def test_killed_again_while_replaying(tmp_path):
    """A collector that dies during replay, after landing an object and before deleting
    its segment, is replayed again by the next start without a duplicate."""
    home = tmp_path / "home"
    first = request_mix(3_000, seed=13)
    collector = CollectorProcess(home)  # default buffers: one segment, no object yet
    try:
        crashed = load(collector.port, first, connections=8, window=32, stop_after=1_000,
                       on_stop=collector.kill_now)
    finally:
        collector.kill_now()
        collector.wait()
    left = segments(home)
    assert objects(home) == set() and len(left) == 1
    (obj, records), = left.values()
    assert records >= len(crashed.accepted()) >= 1_000
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
    env["EDGESTATS_HOME"] = str(home)
    code = (failpoint("replace", "after", ".gz") + "\nimport sys\n"
            "from orchestration.cli import main\nsys.exit(main(['collect', '--port', '0']))")
    dying = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert dying.returncode == -signal.SIGKILL, dying.stderr[-2000:]
    assert "collecting on" not in dying.stdout  # it died replaying, before listening
    # it landed the segment's object and died before deleting the segment
    assert objects(home) == {obj}
    assert segments(home) == left
    restarted = CollectorProcess(home)
    restarted.proc.send_signal(signal.SIGTERM)
    code, out = restarted.wait()
    assert code == 0
    assert replayed(out) == 0  # the object was there: the segment was only deleted
    assert objects(home) == {obj}
    assert_exactly_once(home, [crashed])


def test_an_unwritable_log_answers_503_and_keeps_what_it_answered(tmp_path):
    """A real write failure: the collector may not grow a file past 30,000 bytes
    (RLIMIT_FSIZE, SIGXFSZ ignored), so the write-ahead segment fills after ~45 events.
    The requests after that are answered 503; each one answered 200/204 survives a
    SIGKILL and lands on the next start."""
    home = tmp_path / "home"
    prelude = ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               "resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))\n")
    collector = CollectorProcess(home, python_prelude=prelude)  # default 5 MiB buffers
    try:
        limited = load(collector.port, request_mix(150, seed=14), connections=1, window=1)
    finally:
        collector.kill_now()
        collector.wait()
    statuses = Counter(limited.answered.values())
    assert len(limited.answered) == 150 and set(statuses) <= {200, 204, 503}
    kept = limited.accepted()
    assert 20 <= len(kept) <= 60 and statuses[503] >= 90, statuses
    # the first failure is a partial frame at the end of the segment; nothing after it
    assert sorted(limited.answered)[:len(kept)] == sorted(kept)
    assert "cannot write its write-ahead log" in collector.log.read_text()
    (segment, (obj, records)), = segments(home).items()
    assert (home / "wal" / segment).stat().st_size == 30_000
    assert records >= len(kept)
    restarted = CollectorProcess(home)
    restarted.proc.send_signal(signal.SIGTERM)
    code, out = restarted.wait()
    assert code == 0
    assert replayed(out) == records
    assert_exactly_once(home, [limited])
