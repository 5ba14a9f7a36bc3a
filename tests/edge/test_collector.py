"""`edgestats collect` end to end on loopback: real sockets, a real subprocess, real files."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge import collector
from edge.schema import validate

ROOT = Path(__file__).resolve().parents[2]
GIF_43 = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


class Collector:
    def __init__(self, home: Path, *args: str, env: dict | None = None):
        self.home = home
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
        full_env["EDGESTATS_HOME"] = str(home)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "collect", *args],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self.proc.stdout.readline()
        m = re.match(r"collecting on http://127\.0\.0\.1:(\d+) -> ", self.first_line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"no start line: {self.first_line!r} {self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def request(self, method: str, target: str, body: bytes | None = None, **headers: str):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, dict(resp.getheaders()), data

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err

    def landed(self) -> list[dict]:
        files = sorted((self.home / "landing").glob("events/dt=*/*.gz"))
        return [json.loads(line) for p in files for line in gzip.decompress(p.read_bytes()).splitlines()]

    def vid(self, day: str, site: str, ip: str, ua: str) -> str:
        salt = bytes.fromhex(json.loads((self.home / "salts.json").read_text())[day])
        return hmac.new(salt, f"{site}\0{ip}\0{ua}".encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def running(tmp_path):
    c = Collector(tmp_path / "home", "--port", "0")
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
        c.proc.wait()


def expected(**kw) -> dict:
    e = {
        "schema_version": 1, "event_type": "pageview", "event_name": None, "site": "example.com",
        "path": "/", "referrer_host": None, "utm_source": None, "utm_medium": None,
        "utm_campaign": None, "utm_term": None, "utm_content": None, "country": None,
        "region": None, "city": None, "timezone": None, "device_type": "desktop",
        "browser": "Firefox", "browser_version": "133", "os": "Linux", "os_version": None,
        "is_bot": False,
    }
    e.update(kw)
    return e


def test_pages_pixel_and_beacon_end_to_end(running):
    c = running
    assert c.first_line == (f"collecting on http://127.0.0.1:{c.port} -> {c.home / 'landing'} "
                            f"(buffer 60 s / 5 MiB; write-ahead log {c.home / 'wal'})\n")
    before = dt.datetime.now(dt.timezone.utc)
    status, headers, body = c.request(
        "GET", "/blog/?utm_source=Mastodon&utm_campaign=launch", Host="example.com",
        User_Agent=FIREFOX, Referer="https://www.social.example/@me",
        CloudFront_Viewer_Country="nl", CloudFront_Viewer_City="Amsterdam",
        CloudFront_Viewer_Address="198.51.100.7:50123")
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert b"edgestats" in body

    status, headers, body = c.request("GET", "/logo.png", Host="example.com", User_Agent=FIREFOX)
    assert status == 404

    status, headers, body = c.request(
        "GET", "/_e/p.gif?u=https%3A%2F%2Fshop.example.com%2Fcart&r=&n=checkout",
        Host="stats.example.com", User_Agent=FIREFOX, CloudFront_Viewer_Country="DE")
    assert status == 200
    assert body == GIF_43
    assert headers["Content-Type"] == "image/gif"
    assert headers["Cache-Control"] == "no-store, no-cache, must-revalidate, max-age=0"
    assert headers["Content-Length"] == "43"

    status, headers, body = c.request(
        "OPTIONS", "/_e/collect", Host="stats.example.com", Origin="https://shop.example.com",
        Access_Control_Request_Method="POST")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"

    beacon = json.dumps({"u": "https://shop.example.com/thanks", "r": "https://duckduckgo.com/"})
    status, headers, body = c.request(
        "POST", "/_e/collect", body=beacon.encode(), Host="stats.example.com",
        User_Agent=FIREFOX, Origin="https://shop.example.com",
        Content_Type="text/plain;charset=UTF-8", CloudFront_Viewer_Country="FR")
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == "https://shop.example.com"

    code, out, err = c.stop()
    after = dt.datetime.now(dt.timezone.utc)
    assert code == 0, err
    assert re.fullmatch(
        re.escape(f"stopped after 5 requests: 3 events, 1 objects under {c.home / 'landing'}, ")
        + r"\d+ write-ahead commits", out.splitlines()[-1])
    # a clean stop lands every segment: the write-ahead log keeps only its lock file
    assert [p.name for p in (c.home / "wal").iterdir()] == [".lock"]
    events = c.landed()
    assert len(events) == 3
    for e in events:
        assert validate(e) == []
        assert re.fullmatch(r"[A-Za-z0-9_-]{56}", e["event_id"])
        t = dt.datetime.strptime(e["event_time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=dt.timezone.utc)
        assert before - dt.timedelta(seconds=1) <= t <= after
    assert len({e["event_id"] for e in events}) == 3
    day = events[0]["event_time"][:10]
    ignore = ("event_id", "event_time")
    assert [{k: v for k, v in e.items() if k not in ignore} for e in events] == [
        expected(path="/blog/", referrer_host="social.example", utm_source="Mastodon",
                 utm_campaign="launch", country="NL", city="Amsterdam", ingest="edge",
                 visitor_id=c.vid(day, "example.com", "198.51.100.7", FIREFOX)),
        expected(event_type="custom", event_name="checkout", site="shop.example.com",
                 path="/cart", country="DE", ingest="pixel",
                 visitor_id=c.vid(day, "shop.example.com", "127.0.0.1", FIREFOX)),
        expected(site="shop.example.com", path="/thanks", referrer_host="duckduckgo.com",
                 country="FR", ingest="beacon",
                 visitor_id=c.vid(day, "shop.example.com", "127.0.0.1", FIREFOX)),
    ]
    raw = b"".join(p.read_bytes() for p in (c.home / "landing").rglob("*.gz"))
    for secret in (b"198.51.100.7", b"127.0.0.1", b"X11", b"Gecko"):
        assert secret not in gzip.decompress(raw)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_every_buffered_event(running, sig):
    """Nothing reaches disk while the 60 s / 5 MiB buffer fills; the signal writes it all."""
    c = running
    sock = socket.create_connection(("127.0.0.1", c.port))
    n = 300
    reqs = b"".join(
        (f"GET /p{i} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {FIREFOX}\r\n\r\n").encode()
        for i in range(n))
    sock.sendall(reqs)  # pipelined on one keep-alive connection
    got = b""
    while got.count(b"HTTP/1.1 200 OK") < n:
        chunk = sock.recv(65536)
        assert chunk
        got += chunk
    sock.close()
    assert list((c.home / "landing").rglob("*.gz")) == []
    code, out, err = c.stop(sig)
    assert code == 0, err
    events = c.landed()
    assert sorted(e["path"] for e in events) == sorted(f"/p{i}" for i in range(n))
    assert not list((c.home / "landing").rglob("*.tmp"))


def test_small_buffer_delivers_while_running(tmp_path):
    c = Collector(tmp_path / "home", "--port", "0",
                  env={"EDGESTATS_FIREHOSE_BUFFER_BYTES": "2000",
                       "EDGESTATS_FIREHOSE_BUFFER_SECONDS": "1"})
    try:
        assert c.first_line.endswith(f"(buffer 1 s / 2000 B; write-ahead log {c.home / 'wal'})\n")
        for i in range(20):
            assert c.request("GET", f"/q{i}", Host="example.com", User_Agent=FIREFOX)[0] == 200
        # ~600 bytes per event: full buffers are written by the background thread
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        while len(list((c.home / "landing").rglob("*.gz"))) < 5:
            assert dt.datetime.now() < deadline
            time.sleep(0.02)
        assert c.proc.poll() is None
    finally:
        code, _, err = c.stop()
    assert code == 0, err
    assert sorted(e["path"] for e in c.landed()) == sorted(f"/q{i}" for i in range(20))


def test_port_in_use_is_one_clear_line_and_exit_2(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
    env["EDGESTATS_HOME"] = str(tmp_path)
    try:
        r = subprocess.run([sys.executable, "-m", "orchestration.cli", "collect", "--port",
                            str(port)], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=60)
    finally:
        busy.close()
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"edgestats: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "pick another --port (0 picks a free one)"]


def test_bad_port_number_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
    env["EDGESTATS_HOME"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-m", "orchestration.cli", "collect", "--port", "70000"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (
        2, "edgestats: --port 70000 is not a TCP port; use 0-65535 (0 picks a free one)\n")


def test_a_second_collector_on_the_same_home_is_one_clear_line_and_exit_2(running):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
    env["EDGESTATS_HOME"] = str(running.home)
    r = subprocess.run([sys.executable, "-m", "orchestration.cli", "collect", "--port", "0"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (
        2, f"edgestats: another edgestats collect is using {running.home / 'wal'}; stop it "
           "first or give this one its own EDGESTATS_HOME\n")
    assert running.request("GET", "/", Host="example.com", User_Agent=FIREFOX)[0] == 200


def test_pipelined_answers_keep_their_order_while_events_wait_for_their_commit(running):
    """A page (event), an asset (no event: nothing to wait for), a pixel (event) and a
    page with `Connection: close`, in one write: four answers in request order, then the
    connection closes; the three events landed."""
    c = running
    head = f"Host: example.com\r\nUser-Agent: {FIREFOX}\r\n"
    sock = socket.create_connection(("127.0.0.1", c.port), timeout=10)
    sock.sendall((f"GET /first HTTP/1.1\r\n{head}\r\n"
                  f"GET /logo.png HTTP/1.1\r\n{head}\r\n"
                  f"GET /_e/p.gif?u=https%3A%2F%2Fexample.com%2Fthird HTTP/1.1\r\n{head}\r\n"
                  f"GET /fourth HTTP/1.1\r\n{head}Connection: close\r\n\r\n"
                  f"GET /never HTTP/1.1\r\n{head}\r\n").encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"404", b"200", b"200"]
    assert data.index(b"image/gif") > data.index(b"not found")  # the pixel after the 404
    code, _, err = c.stop()
    assert code == 0, err
    assert sorted(e["path"] for e in c.landed()) == ["/first", "/fourth", "/third"]


def test_malformed_http_gets_400_and_the_server_keeps_going(running):
    c = running
    sock = socket.create_connection(("127.0.0.1", c.port))
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    sock.close()
    assert c.request("GET", "/", Host="example.com", User_Agent=FIREFOX)[0] == 200


def test_oversized_url_gets_414(running):
    sock = socket.create_connection(("127.0.0.1", running.port))
    sock.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 414 ")
    sock.close()


# ---------------------------------------------------------------- in-process pieces


def test_cloudfront_event_shape():
    event = collector.cloudfront_event(
        "POST", "/_e/collect", "a=1", [("Host", "example.com"), ("X-Dup", "1"), ("x-dup", "2")],
        "192.0.2.1", b'{"u":"x"}', "REQ")
    assert event == {"Records": [{"cf": {
        "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                   "distributionId": "EDGESTATSLOCAL", "eventType": "viewer-request",
                   "requestId": "REQ"},
        "request": {
            "clientIp": "192.0.2.1",
            "headers": {"host": [{"key": "Host", "value": "example.com"}],
                        "x-dup": [{"key": "X-Dup", "value": "1"}, {"key": "x-dup", "value": "2"}]},
            "method": "POST", "querystring": "a=1", "uri": "/_e/collect",
            "body": {"inputTruncated": False, "action": "read-only", "encoding": "base64",
                     "data": base64.b64encode(b'{"u":"x"}').decode()},
        },
    }}]}


def test_body_over_40_kb_is_truncated_like_cloudfront():
    body = b"x" * (40 * 1024 + 1)
    b = collector.cloudfront_event("POST", "/", "", [], "192.0.2.1", body, "R")[
        "Records"][0]["cf"]["request"]["body"]
    assert b["inputTruncated"] is True
    assert base64.b64decode(b["data"]) == body[:40 * 1024]


def test_request_ids_are_56_characters_and_unique():
    ids = {collector.next_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert {len(i) for i in ids} == {56}
