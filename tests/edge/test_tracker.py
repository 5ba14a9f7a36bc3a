"""The tracker script: small, no cookies or storage, and it really sends from a browser.

The browser test serves pages over real HTTP on 127.0.0.1, loads them in headless
Chromium and checks the beacon and pixel requests that arrive.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

STATIC = Path(__file__).resolve().parents[2] / "edge" / "static"
MINIFIED = STATIC / "tracker.min.js"
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if Path(p).exists()), None) or shutil.which("chromium")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
QUEUE_STUB = ("window.edgestats=window.edgestats||function(){"
              "(edgestats.q=edgestats.q||[]).push(arguments)};")

# One page per behaviour; the top page loads them all in iframes, so one browser run
# covers everything.  Each iframe is told apart by its own URL in `u`.
PAGES = {
    "/beacon.html": '<script src="/tracker.min.js"></script>',
    "/event.html": '<script src="/tracker.min.js"></script><script>edgestats("signup")</script>',
    "/queued.html": f'<script>{QUEUE_STUB}edgestats("download")</script>'
                    '<script src="/tracker.min.js"></script>',
    "/spa.html": '<script src="/tracker.min.js"></script><script>'
                 'history.pushState({}, "", "/spa/next?tab=2");'
                 'history.pushState({}, "", "/spa/next?tab=2#same-page");</script>',
    "/pixel.html": '<script>navigator.sendBeacon = undefined</script>'
                   '<script src="/tracker.min.js"></script>'
                   '<script>edgestats("signup")</script>',
    "/api.html": '<script src="/tracker.min.js" data-api="/custom/_e"></script>',
    "/dnt.html": "<script>Object.defineProperty(navigator, 'doNotTrack', {value: '1'})</script>"
                 '<script src="/tracker.min.js" data-respect-dnt></script>',
    "/dnt-ignored.html": "<script>Object.defineProperty(navigator, 'doNotTrack', {value: '1'})"
                         '</script><script src="/tracker.min.js"></script>',
}
FRAMES = [p for p in PAGES]
TOP = "".join(f'<iframe src="{p}?from=test"></iframe>' for p in FRAMES)


def test_minified_is_under_one_kilobyte():
    assert MINIFIED.stat().st_size < 1024


@pytest.mark.parametrize("path", [MINIFIED, STATIC / "tracker.js"])
def test_no_cookies_or_storage(path):
    source = path.read_text()
    code = source.split("*/", 1)[-1] if path.suffix == ".js" and "/*" in source else source
    for api in ("cookie", "localStorage", "sessionStorage", "indexedDB", "caches"):
        assert api not in code


class Recorder(BaseHTTPRequestHandler):
    """Serves the test pages and records every tracker request."""

    requests: list[dict] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            return self._send(200, "text/html", f"<html><body>{TOP}</body></html>".encode())
        if path == "/tracker.min.js":
            return self._send(200, "application/javascript", MINIFIED.read_bytes())
        if path in PAGES:
            return self._send(200, "text/html", f"<html><body>{PAGES[path]}</body></html>".encode())
        if path.endswith("/p.gif"):
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            self.requests.append({"kind": "pixel", "path": path, "fields": query})
            return self._send(200, "image/gif", GIF)
        self._send(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.requests.append({"kind": "beacon", "path": self.path,
                              "content_type": self.headers.get("content-type"),
                              "cookie": self.headers.get("cookie"),
                              "fields": json.loads(body)})
        self._send(204, "text/plain", b"")

    def do_OPTIONS(self) -> None:  # a preflight would mean the beacon is not "simple"
        self.requests.append({"kind": "preflight", "path": self.path, "fields": {}})
        self._send(204, "text/plain", b"")

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def browser_requests(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    profile = tmp_path_factory.mktemp("chromium-profile")
    try:
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--virtual-time-budget=5000", "--dump-dom", f"{base}/"],
            capture_output=True, timeout=90, check=True,
        )
        expected = 11  # see the tests below; wait for stragglers a little while
        deadline = time.monotonic() + 10
        while len(Recorder.requests) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        server.shutdown()
        server.server_close()
    return base, list(Recorder.requests)


def sent_from(requests, page: str) -> list[dict]:
    """Requests whose `u` is on `page`, page views first: beacons travel in parallel, so
    their arrival order is not the order they were sent in."""
    sent = [r for r in requests if urlsplit(r["fields"].get("u", "")).path.startswith(page)]
    return sorted(sent, key=lambda r: (r["fields"].get("n") or "", r["fields"]["u"]))


def test_page_view_is_a_text_plain_beacon(browser_requests):
    base, requests = browser_requests
    sent = sent_from(requests, "/beacon.html")
    assert sent == [{"kind": "beacon", "path": "/_e/collect",
                     "content_type": "text/plain;charset=UTF-8", "cookie": None,
                     "fields": {"u": f"{base}/beacon.html?from=test", "r": f"{base}/"}}]
    assert not [r for r in requests if r["kind"] == "preflight"]


def test_custom_event_follows_the_page_view(browser_requests):
    base, requests = browser_requests
    sent = [r["fields"] for r in sent_from(requests, "/event.html")]
    assert sent == [{"u": f"{base}/event.html?from=test", "r": f"{base}/"},
                    {"u": f"{base}/event.html?from=test", "r": f"{base}/", "n": "signup"}]


def test_calls_queued_before_the_script_loads_are_sent(browser_requests):
    _, requests = browser_requests
    assert [r["fields"].get("n") for r in sent_from(requests, "/queued.html")] == [None, "download"]


def test_single_page_app_navigation_counts_once_per_path(browser_requests):
    base, requests = browser_requests
    urls = [r["fields"]["u"] for r in sent_from(requests, "/spa")]
    assert urls == [f"{base}/spa.html?from=test", f"{base}/spa/next?tab=2"]


def test_pixel_when_there_is_no_beacon(browser_requests):
    base, requests = browser_requests
    sent = sent_from(requests, "/pixel.html")
    assert [(r["kind"], r["path"]) for r in sent] == [("pixel", "/_e/p.gif")] * 2
    assert sent[0]["fields"] == {"u": f"{base}/pixel.html?from=test", "r": f"{base}/"}
    assert sent[1]["fields"]["n"] == "signup"


def test_data_api_overrides_the_endpoint(browser_requests):
    _, requests = browser_requests
    assert [r["path"] for r in sent_from(requests, "/api.html")] == ["/custom/_e/collect"]


def test_do_not_track_only_when_the_site_asks(browser_requests):
    _, requests = browser_requests
    assert sent_from(requests, "/dnt.html") == []
    assert len(sent_from(requests, "/dnt-ignored.html")) == 1
    assert len(requests) == 11  # nothing else was sent
