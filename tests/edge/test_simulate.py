"""The traffic simulator: real files through the real normaliser, deterministic per seed."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import json
import random
import re
from pathlib import Path

import pytest

import edge.simulate as simulate
from edge.schema import COLUMNS, encode, validate
from orchestration.cli import main

START = dt.date(2026, 11, 1)
DAYS = 2
PAGEVIEWS = 6_000
SESSION_GAP = dt.timedelta(minutes=30)
OBJECT_NAME = re.compile(
    r"^edgestats-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
    r"[89ab][0-9a-f]{3}-[0-9a-f]{12}\.gz$"
)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_events(root: Path) -> list[tuple[str, dict]]:
    """(landing folder date, event) for every record, in file order."""
    out = []
    for p in sorted((root / "events").rglob("*.gz")):
        for line in gzip.decompress(p.read_bytes()).splitlines():
            out.append((p.parent.name.removeprefix("dt="), json.loads(line)))
    return out


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    landing = tmp_path_factory.mktemp("sim") / "landing"
    summary = simulate.simulate_to_landing(landing, START, DAYS, PAGEVIEWS, seed=7)
    return landing, summary, read_events(landing)


def test_same_seed_rewrites_identical_objects_and_other_seeds_differ(tmp_path):
    def sim(folder: str, seed: int) -> dict:
        summary = simulate.simulate_to_landing(tmp_path / folder, START, 2, 1_500, seed=seed)
        return summary | {"seconds": 0}

    first = sim("first", 7)
    assert sim("again", 7) == first
    assert tree(tmp_path / "again") == tree(tmp_path / "first")
    # A second run into the same landing zone overwrites: same names, nothing added.
    sim("again", 7)
    assert tree(tmp_path / "again") == tree(tmp_path / "first")

    sim("other", 8)
    assert not set(tree(tmp_path / "other")) & set(tree(tmp_path / "first"))
    ids = {e["event_id"] for _, e in read_events(tmp_path / "first")}
    assert not ids & {e["event_id"] for _, e in read_events(tmp_path / "other")}


def test_worker_count_does_not_change_the_output(tmp_path, monkeypatch):
    monkeypatch.setattr(simulate, "MAX_PAGEVIEWS_PER_CHUNK", 300)  # 1,000 a day: 24 hour chunks
    chunks = simulate.plan(tmp_path, START, 1, 1_000, 3, "edgestats", 5 << 20, 900.0, 1)
    assert [c.hours for c in chunks] == [(h,) for h in range(24)]
    assert sum(c.pageviews for c in chunks) == 1_000
    one = simulate.simulate_to_landing(tmp_path / "one", START, 1, 1_000, seed=3, workers=1)
    two = simulate.simulate_to_landing(tmp_path / "two", START, 1, 1_000, seed=3, workers=2)
    assert one | {"seconds": 0} == two | {"seconds": 0}
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_summary_counts_what_landed(run):
    landing, summary, events = run
    objects = list((landing / "events").rglob("*"))
    gz = [p for p in objects if p.is_file()]
    assert all(OBJECT_NAME.match(p.name) for p in gz), "Firehose object names"
    assert not [p for p in gz if p.name.startswith(".")], "no temporary files left"
    unique = {e["event_id"]: e for _, e in events}.values()  # without redeliveries
    assert summary["pageviews"] == sum(e["event_type"] == "pageview" for e in unique)
    assert summary["pageviews"] == DAYS * PAGEVIEWS
    assert summary["custom_events"] == sum(e["event_type"] == "custom" for e in unique)
    assert summary["bots"] == sum(e["is_bot"] for e in unique)
    assert summary["events"] == len(events)
    assert summary["objects"] == len(gz)
    assert summary["duplicates"] == len(events) - len({e["event_id"] for _, e in events}) > 0
    assert summary["skipped"] > 0


def test_every_event_is_canonical(run):
    _, _, events = run
    for _, e in events:
        assert validate(e) == []
        assert list(e) == list(COLUMNS)
        assert e["ingest"] == "simulator"
        assert re.fullmatch(r"[0-9a-f]{16}", e["visitor_id"])
        assert len(e["event_id"]) == 56


def test_duplicates_are_exact_redeliveries(run):
    _, _, events = run
    by_id = collections.defaultdict(list)
    for _, e in events:
        by_id[e["event_id"]].append(e)
    twice = [v for v in by_id.values() if len(v) > 1]
    assert twice and all(len(v) == 2 and v[0] == v[1] for v in twice)


def test_bots_are_three_to_eight_percent(run):
    _, _, events = run
    share = sum(e["is_bot"] for _, e in events) / len(events)
    assert 0.03 <= share <= 0.08
    bots = {e["browser"] for _, e in events if e["is_bot"]}
    assert {"Googlebot", "bingbot"} <= bots
    assert all(e["device_type"] == "bot" for _, e in events if e["is_bot"])


def test_simulator_user_agents_classify_as_intended():
    from edge.useragent import parse_user_agent

    assert not any(parse_user_agent(ua).is_bot for ua, _ in simulate.HUMAN_USER_AGENTS)
    assert all(parse_user_agent(ua).is_bot for ua, _, _ in simulate.BOT_USER_AGENTS)
    kinds = {parse_user_agent(ua).device_type for ua, _ in simulate.HUMAN_USER_AGENTS}
    assert kinds == {"desktop", "mobile", "tablet"}


def test_sessions_follow_the_thirty_minute_rule(run):
    """Visits have several page views; some visitors come back after > 30 min (two
    sessions) and some read so long that one session lasts over 30 min."""
    _, _, events = run
    by_visitor = collections.defaultdict(list)
    for _, e in events:
        if not e["is_bot"]:
            by_visitor[e["site"], e["visitor_id"], e["event_time"][:10]].append(e)
    sessions = []
    for evs in by_visitor.values():
        evs.sort(key=lambda e: (e["event_time"], e["event_id"]))
        times = [parse_time(e["event_time"]) for e in evs]
        current = [times[0]]
        for before, after in zip(times, times[1:], strict=False):
            if after - before > SESSION_GAP:
                sessions.append(current)
                current = []
            current.append(after)
        sessions.append(current)
    split_visitors = len(sessions) - len(by_visitor)
    bounces = sum(len(s) == 1 for s in sessions)
    long_sessions = sum(s[-1] - s[0] > SESSION_GAP for s in sessions)
    assert split_visitors > 0.05 * len(by_visitor)
    assert 0.25 < bounces / len(sessions) < 0.6
    assert long_sessions > 0
    assert max(len(s) for s in sessions) >= 8


def test_events_before_midnight_land_in_the_next_days_folder(run):
    _, _, events = run
    late = [(folder, e) for folder, e in events if e["event_time"][:10] != folder]
    assert late
    for folder, e in late:
        assert dt.date.fromisoformat(folder) == dt.date.fromisoformat(e["event_time"][:10]) \
            + dt.timedelta(days=1)
        assert e["event_time"][11:16] == "23:59" or e["event_time"][11:15] == "23:5"


def test_traffic_exercises_every_normalisation_rule(run):
    _, _, events = run
    paths = collections.Counter(e["path"] for _, e in events)
    assert not [p for p in paths if "//" in p or "index.htm" in p or "%" in p]
    assert paths["/blog/sécurité/"] and paths["/guides/lambda@edge/"]
    top = [p for p, _ in paths.most_common(3)]
    assert top[0] == "/"
    sources = {e["utm_source"] for _, e in events}
    assert {"Newsletter", "newsletter", "NEWSLETTER", "twitter", "Twitter"} <= sources
    referrers = collections.Counter(e["referrer_host"] for _, e in events)
    assert referrers[None] > referrers["google.com"] > referrers["bing.com"] > 0
    assert "www.google.com" not in referrers
    assert {"signup", "download"} == {e["event_name"] for _, e in events} - {None}
    cities = {e["city"] for _, e in events}
    assert {"São Paulo", "München", "Berlin", None} <= cities
    assert {e["country"] for _, e in events} >= {"US", "DE", "IN", "NG", None}
    assert {e["site"] for _, e in events} == {"example.com", "docs.example.com"}
    assert {e["device_type"] for _, e in events} == {"desktop", "mobile", "tablet", "bot"}


def test_diurnal_curve(run):
    _, _, events = run
    hours = collections.Counter(int(e["event_time"][11:13]) for _, e in events if not e["is_bot"])
    assert hours[15] > 3 * hours[4]


def test_no_ip_or_user_agent_reaches_the_landing_zone(run):
    landing, _, _ = run
    needles = [ua.encode() for ua, *_ in simulate.HUMAN_USER_AGENTS + simulate.BOT_USER_AGENTS]
    needles += [p.encode() for p in simulate.SIMULATOR_IP_PREFIXES]
    needles += [b"Mozilla", b"Googlebot/2.1", b"curl/"]
    for p in landing.rglob("*"):
        if p.is_file():
            content = gzip.decompress(p.read_bytes())
            for needle in needles:
                assert needle not in content, (p.name, needle)


def test_fast_encode_is_byte_identical_to_json():
    """The simulator's speed leans on schema.encode's orjson path: it must not change bytes."""
    rng = random.Random(0)
    alphabet = ["a", "Z", "é", "\x7f", "\x00", '"', "\\", "\n", "\u2028", "😀", "字"]
    for _ in range(2_000):
        event = {rng.choice(alphabet) * rng.randint(1, 3): rng.choice(
            [None, True, False, rng.randint(-10**12, 10**12),
             "".join(rng.choices(alphabet, k=rng.randint(0, 8)))]) for _ in range(5)}
        want = (json.dumps(event, separators=(",", ":"), ensure_ascii=True) + "\n").encode()
        assert encode(event) == want


def test_cli_prints_one_summary_line(settings, capsys):
    code = main(["simulate", "--start", "2026-11-01", "--days", "1",
                 "--pageviews-per-day", "200", "--seed", "5"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    assert out[0].startswith("simulated 2026-11-01..2026-11-01: ")
    assert "(200 page views, " in out[0]
    assert list((settings.landing / "events").glob("dt=2026-11-0*/*.gz"))


def test_cli_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EDGESTATS_HOME", str(blocker))
    code = main(["simulate", "--start", "2026-11-01", "--pageviews-per-day", "10"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot write the landing zone" in err[0]
    with pytest.raises(SystemExit) as e:
        main(["simulate", "--start", "2026-11-01", "--pageviews-per-day", "0"])
    assert e.value.code == 2
