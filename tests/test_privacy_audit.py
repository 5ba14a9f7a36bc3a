"""Privacy audit: known IPs and User-Agents go in through every door; none comes out anywhere.

One `EDGESTATS_HOME` receives traffic from the simulator (its own IPs and UAs, captured
as they pass into the normaliser), the collector (a real subprocess, real HTTP, viewer
addresses in `CloudFront-Viewer-Address`; a second one is SIGKILLed after answering, so
its events stay in the write-ahead log `wal/`), a CloudFront log import and the log-stream
transform Lambda, each with distinctive IPs (IPv4 and IPv6) and User-Agents carrying a
random marker.  The day is materialised and reported through the command line.  Then
every byte under the home is scanned: gzip objects decompressed, Parquet read with
pyarrow (every string value, compressed pages included) as well as raw, SQLite databases
(Dagster's storage) dumped row by row with zlib blobs inflated, logs, salts, the report.
The scan must find the landing and warehouse full of events from every door, and not
one IP or User-Agent in any form: plain, URL-encoded, JSON-escaped.

The 48-hour salt lifetime is checked on the local `FileSaltStore` here; the SSM
rotation Lambda is checked on moto in tests/infra/test_salt_functions.py
(`test_rotation_deletes_salts_48_hours_after_their_day_ended`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import http.client
import json
import re
import secrets
import signal
import sqlite3
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pyarrow.parquet as pq
import pytest

import edge.simulate
from edge import transform
from edge.config import EdgeConfig, Settings
from edge.firehose import LocalFirehose
from edge.logformat import LEGACY_FIELDS
from edge.logimport import import_logs
from edge.salts import RETENTION, FileSaltStore, MemorySaltStore
from edge.wal import read_frames
from orchestration.cli import main
from tests.reliability.loadgen import CollectorProcess, landed_events

pytestmark = pytest.mark.timeout(600)

MARK = secrets.token_hex(6)
DAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


def ua(name: str) -> str:
    return f"Mozilla/5.0 (X11; PrivacyAudit-{name}-{MARK}; Linux x86_64; rv:133.0) " \
           "Gecko/20100101 Firefox/133.0"


COLLECTOR_IPS = {"page": "198.51.100.77", "page6": "2001:db8:77:77::77",
                 "pixel": "198.51.100.78", "beacon": "2001:db8:77:77::78"}
KILLED_COLLECTOR_IP = "198.51.100.80"  # its events stay in the write-ahead log
FORWARDED_IP = "198.51.100.79"  # in X-Forwarded-For: read by no door, kept by none
LOG_IPS = ["198.51.100.90", "2001:db8:77:77::90", "198.51.100.92"]
LOG_FORWARDED_IP = "198.51.100.91"
STREAM_IP = "198.51.100.95"


# ---------------------------------------------------------------- the doors


def run_simulator(settings: Settings, seen: set[tuple[str, str]]) -> None:
    """The simulator in this process, with the IP and UA of every hit it normalises noted,
    and of every visitor it hashes (its batch path normalises one hit per distinct page,
    referrer and UA x location, and hashes each visitor's own IP and UA once per day)."""
    real_normalise, real_visitor_id = edge.simulate.normalise, edge.simulate.visitor_id

    def noting(hit, salts):
        seen.add((hit.client_ip or "", hit.user_agent or ""))
        return real_normalise(hit, salts)

    def noting_visitor(salt, site, client_ip, user_agent):
        seen.add((client_ip, user_agent))
        return real_visitor_id(salt, site, client_ip, user_agent)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edge.simulate, "normalise", noting)
        patch.setattr(edge.simulate, "visitor_id", noting_visitor)
        edge.simulate.simulate_to_landing(settings.landing, DAY, 1, 300, seed=5, workers=1)


COLLECTOR_CLOCK = f"""
import datetime as dt, time
from edge import handler
_started = time.time()
_base = dt.datetime({DAY.year}, {DAY.month}, {DAY.day}, 12, 0, tzinfo=dt.timezone.utc)
handler.configure(clock=lambda: _base + dt.timedelta(seconds=time.time() - _started))
"""


def run_collector(home: Path) -> None:
    """Real HTTP against `edgestats collect`; its handler's clock reads `DAY` 12:00 so the
    events belong to a day that can be materialised (they land in today's folder)."""
    collector = CollectorProcess(home, python_prelude=COLLECTOR_CLOCK)
    try:
        def send(method, target, ip, agent, body=None, **extra):
            conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
            headers = {"Host": "audit.example", "User-Agent": agent,
                       "CloudFront-Viewer-Address": f"{ip}:51234",
                       "CloudFront-Viewer-Country": "DE", **extra}
            conn.request(method, target, body=body, headers=headers)
            status = conn.getresponse().status
            conn.close()
            return status

        page_url = quote("https://audit.example/from-pixel", safe="")
        statuses = [
            send("GET", "/privacy/", COLLECTOR_IPS["page"], ua("collector-page"),
                 **{"X-Forwarded-For": FORWARDED_IP, "Referer": "https://search.example/"}),
            send("GET", "/privacy/v6", COLLECTOR_IPS["page6"], ua("collector-page6")),
            send("GET", f"/_e/p.gif?u={page_url}&n=signup", COLLECTOR_IPS["pixel"],
                 ua("collector-pixel")),
            send("POST", "/_e/collect", COLLECTOR_IPS["beacon"], ua("collector-beacon"),
                 body=json.dumps({"u": "https://audit.example/from-beacon", "r": None})),
            # garbage the handler fails open on: logged, and the log must stay clean too
            send("POST", "/_e/collect", COLLECTOR_IPS["beacon"], ua("collector-garbage"),
                 body=f"not json {COLLECTOR_IPS['beacon']} {ua('in-body')}"),
        ]
        assert statuses == [200, 200, 200, 204, 204]
    finally:
        collector.proc.send_signal(signal.SIGTERM)
        code, _ = collector.wait()
    assert code == 0


def run_killed_collector(home: Path) -> None:
    """A collector SIGKILLed after answering: its events are left in the write-ahead log
    (`wal/`), the one place besides the landing where the collector writes events."""
    collector = CollectorProcess(home, python_prelude=COLLECTOR_CLOCK,
                                 log_name="killed-collector.log")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
        for target in ("/killed/", "/_e/p.gif?u=https%3A%2F%2Faudit.example%2Fkilled-pixel"):
            conn.request("GET", target, headers={
                "Host": "audit.example", "User-Agent": ua("collector-killed"),
                "CloudFront-Viewer-Address": f"{KILLED_COLLECTOR_IP}:51234"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
        conn.close()
    finally:
        collector.kill_now()
        code, _ = collector.wait()
    assert code == -signal.SIGKILL


def log_line(ip: str, agent: str, request_id: str, status: str = "200",
             forwarded: str = "-") -> str:
    values = dict.fromkeys(LEGACY_FIELDS, "-")
    values.update({
        "date": DAY.isoformat(), "time": "15:00:00", "x-edge-location": "FRA56-P1",
        "c-ip": ip, "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net",
        "cs-uri-stem": "/from-logs/", "sc-status": status, "cs(Referer)": "-",
        "cs(User-Agent)": quote(agent, safe="/;()"), "x-edge-request-id": request_id,
        "x-host-header": "audit.example", "x-forwarded-for": forwarded,
    })
    return "\t".join(values[f] for f in LEGACY_FIELDS)


def run_log_import(settings: Settings, logs: Path) -> None:
    logs.mkdir()
    header = "#Version: 1.0\n#Fields: " + " ".join(LEGACY_FIELDS) + "\n"
    lines = [log_line(LOG_IPS[0], ua("log-v4"), "LOG-1", forwarded=LOG_FORWARDED_IP),
             log_line(LOG_IPS[1], ua("log-v6"), "LOG-2"),
             log_line(LOG_IPS[2], ua("log-bad-status"), "LOG-3", status="abc")]
    (logs / "E2AUDIT.2026-01-01-15.a.gz").write_bytes(
        gzip.compress((header + "\n".join(lines) + "\n").encode()))
    broken = gzip.compress((header + lines[0].replace("LOG-1", "LOG-4") + "\n").encode())
    (logs / "E2AUDIT.2026-01-01-15.b.gz").write_bytes(broken[: len(broken) // 2])
    with open(settings.home / "import-logs.log", "w") as warn, \
            contextlib.redirect_stdout(warn):
        summary = import_logs([logs], settings, warn=warn)
        print(summary.line())
    assert summary.pageviews == 2 and summary.skipped["malformed"] == 2


def run_log_stream(settings: Settings) -> None:
    """The transform Lambda's output, delivered as Firehose would deliver it."""
    record = {"timestamp(ms)": str(int(dt.datetime.combine(
        DAY, dt.time(16), dt.timezone.utc).timestamp() * 1000)),
        "c-ip": STREAM_IP, "cs-method": "GET", "x-host-header": "audit.example",
        "cs-uri-stem": "/from-stream/", "sc-status": "200",
        "cs(User-Agent)": quote(ua("stream"), safe="/;()"), "x-edge-request-id": "STREAM-1"}
    batch = {"records": [
        {"recordId": "1", "data": base64.b64encode(json.dumps(record).encode()).decode()},
        {"recordId": "2", "data": base64.b64encode(
            f"garbage {STREAM_IP} {ua('stream-garbage')}".encode()).decode()},
    ]}
    transform.configure(salts=MemorySaltStore(), config=EdgeConfig())
    try:
        with open(settings.home / "transform-lambda.log", "w") as log, \
                contextlib.redirect_stdout(log):
            out = transform.handler(batch, None)
    finally:
        transform.configure()
    assert [r["result"] for r in out["records"]] == ["Ok", "Dropped"]
    with LocalFirehose(settings.landing) as firehose:
        for r in out["records"]:
            if r["result"] == "Ok":
                for line in base64.b64decode(r["data"]).splitlines(keepends=True):
                    firehose.put(line)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("privacy")
    home = root / "home"
    home.mkdir()
    monkeypatch.setenv("EDGESTATS_HOME", str(home))
    monkeypatch.delenv("EDGESTATS_BACKEND", raising=False)
    settings = Settings.from_env()
    assert settings.home == home
    simulated: set[tuple[str, str]] = set()
    try:
        run_simulator(settings, simulated)
        run_collector(home)
        run_killed_collector(home)
        run_log_import(settings, root / "logs")
        run_log_stream(settings)
        with open(home / "commands.log", "w") as out, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(out):
            assert Settings.from_env().home == home  # the commands write nowhere else
            assert main(["materialize", "--start", str(DAY), "--end", str(DAY)]) == 0
            assert main(["report", "--start", str(DAY), "--end", str(DAY)]) == 0
    finally:
        monkeypatch.undo()
    return home, simulated


# ---------------------------------------------------------------- the scan


def needles(simulated: set[tuple[str, str]]) -> tuple[set[str], set[str]]:
    ips = set(COLLECTOR_IPS.values()) | set(LOG_IPS) | {FORWARDED_IP, LOG_FORWARDED_IP,
                                                        STREAM_IP, KILLED_COLLECTOR_IP}
    ips |= {ip for ip, _ in simulated if ip}
    agents = {ua(n) for n in ("collector-page", "collector-page6", "collector-pixel",
                              "collector-beacon", "collector-garbage", "collector-killed", "in-body", "log-v4",
                              "log-v6", "log-bad-status", "stream", "stream-garbage")}
    agents |= {a for _, a in simulated if a}
    return ips, agents


def forms(text: str) -> set[str]:
    """The ways a value can be written: as is, URL-encoded, JSON-escaped."""
    return {text, quote(text, safe=""), quote(text, safe="/;()"), quote_plus(text),
            json.dumps(text)[1:-1], text.replace("/", "\\/")}


def ip_pattern(ips: set[str]) -> re.Pattern:
    """Any of `ips` in any form, not as part of a longer number (192.0.2.1 in 192.0.2.15)."""
    alternatives = sorted({re.escape(f) for ip in ips for f in forms(ip)}, key=len, reverse=True)
    return re.compile(r"(?<![0-9A-Fa-f.:])(?:" + "|".join(alternatives) + r")(?![0-9A-Fa-f])")


def texts_of(path: Path) -> list[tuple[str, str]]:
    """(view, text) pairs to scan for one file: its raw bytes and every decoded form."""
    data = path.read_bytes()
    out = [("raw", data.decode("latin-1"))]
    if data[:2] == b"\x1f\x8b":
        try:
            out.append(("gunzip", gzip.decompress(data).decode("utf-8", "replace")))
        except (OSError, EOFError, zlib.error):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(("gunzip-partial", d.decompress(data).decode("utf-8", "replace")))
    if data[:4] == b"PAR1":
        table = pq.read_table(path)
        values = [str(v) for col in table.columns for v in col.to_pylist() if v is not None]
        values += [str(table.schema.metadata or "")]
        out.append(("parquet values", "\n".join(values)))
    if data[:16] == b"SQLite format 3\x00":
        out.append(("sqlite rows", sqlite_text(path)))
    return out


def sqlite_text(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    parts = []
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                for v in row:
                    if isinstance(v, bytes):
                        parts.append(v.decode("latin-1"))
                        with contextlib.suppress(zlib.error):
                            parts.append(zlib.decompress(v).decode("utf-8", "replace"))
                    elif v is not None:
                        parts.append(str(v))
    finally:
        con.close()
    return "\n".join(parts)


def test_no_ip_or_user_agent_is_written_anywhere(audited):
    home, simulated = audited
    ips, agents = needles(simulated)
    ip_re = ip_pattern(ips)
    agent_forms = {f for a in agents for f in forms(a)} | {MARK}
    scanned, found = 0, []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        for view, text in texts_of(path):
            scanned += len(text)
            m = ip_re.search(text)
            if m:
                found.append(f"{path.relative_to(home)} ({view}): IP {m.group()!r}")
            for needle in agent_forms:
                if needle in text:
                    found.append(f"{path.relative_to(home)} ({view}): User-Agent {needle[:60]!r}")
                    break
    assert found == [], "\n".join(found[:20])
    assert scanned > 1_000_000  # landing, warehouse, Dagster storage, logs, report


def test_the_audit_is_not_vacuous(audited):
    """Every door delivered, the day was materialised, and the scan had IPs to look for."""
    home, simulated = audited
    ips, agents = needles(simulated)
    assert len(ips) > 100 and len(agents) > 20, (len(ips), len(agents))
    landed = landed_events(home / "landing")
    doors = {e["ingest"] for e in landed}
    assert doors >= {"simulator", "edge", "pixel", "beacon", "log-import", "log-stream"}
    paths = {e["path"] for e in landed if e["site"] == "audit.example"}
    assert paths == {"/privacy/", "/privacy/v6", "/from-pixel", "/from-beacon", "/from-logs/",
                     "/from-stream/"}
    files = sorted((home / "warehouse" / "events" / f"dt={DAY}").glob("*.parquet"))
    ingest = {v for f in files for v in pq.read_table(f).column("ingest").to_pylist()}
    assert ingest >= doors
    assert (home / "report.html").stat().st_size > 10_000
    assert any((home / "dagster").rglob("*.db"))
    # the killed collector's answered events are in its write-ahead log, and scanned
    logged = [json.loads(r) for p in (home / "wal").glob("*.wal")
              for r in read_frames(p.read_bytes())[1:]]
    assert sorted(e["path"] for e in logged) == ["/killed-pixel", "/killed/"]
    for log in ("collector.log", "import-logs.log", "transform-lambda.log", "commands.log"):
        assert (home / log).stat().st_size > 0, log
    # the collector and the import did log, and what they logged is in the scan above
    assert "failed open while recording a beacon" in (home / "collector.log").read_text()
    assert "unreadable past this point" in (home / "import-logs.log").read_text()


def test_the_scanner_finds_what_it_looks_for(tmp_path):
    """The scan itself can fail: each form of a planted secret is found in each kind of file."""
    import duckdb

    ip, agent = "198.51.100.77", ua("planted")
    ip_re = ip_pattern({ip, "2001:db8::1"})
    assert not ip_re.search("198.51.100.771 and 198.51.100.7 and 2001:db8::10")
    for planted in (ip, quote(agent, safe=""), json.dumps(agent)[1:-1], "2001%3Adb8%3A%3A1"):
        (tmp_path / "x.gz").write_bytes(gzip.compress(planted.encode()))
        text = "\n".join(t for _, t in texts_of(tmp_path / "x.gz"))
        assert ip_re.search(text) or any(f in text for f in forms(agent)), planted
    duckdb.sql("SELECT ? AS a FROM range(3)", params=[agent]).write_parquet(
        str(tmp_path / "x.parquet"), compression="zstd")
    assert any(agent in t for _, t in texts_of(tmp_path / "x.parquet"))
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("CREATE TABLE t (b BLOB)")
    con.execute("INSERT INTO t VALUES (?)", (zlib.compress(agent.encode()),))
    con.commit()
    con.close()
    assert any(agent in t for _, t in texts_of(tmp_path / "x.db"))


def test_salts_older_than_48_hours_are_gone_after_rotation(tmp_path):
    now = [dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)]
    store = FileSaltStore(tmp_path / "salts.json", clock=lambda: now[0])
    first = dt.date(2026, 3, 1)
    values = {}
    for i in range(10):  # a salt for each of 2026-03-01 .. 03-10, written in turn
        day = first + dt.timedelta(days=i)
        now[0] = dt.datetime.combine(day, dt.time(0, 5), dt.timezone.utc)
        values[day.isoformat()] = store.salt_for(day).hex()
    now[0] = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
    store.rotate()
    kept = {"2026-03-08", "2026-03-09", "2026-03-10"}  # 03-07 ended 60 h ago, 03-08 36 h
    assert set(store.days()) == kept
    raw = (tmp_path / "salts.json").read_text()
    for day, value in values.items():
        assert (value in raw) == (day in kept), day
    assert (tmp_path / "salts.json").stat().st_mode & 0o777 == 0o600
    # exactly at 48 h after its end a day is still kept; a millisecond later it is gone
    now[0] = dt.datetime(2026, 3, 9, 0, 0, tzinfo=dt.timezone.utc) + RETENTION
    assert "2026-03-08" not in store.rotate()
    now[0] += dt.timedelta(milliseconds=1)
    assert store.rotate() == ["2026-03-08"]
    assert "2026-03-08" not in store.days()
