"""Fuzz targets shared by `tests/reliability/test_fuzz.py` (a few hundred cases in
`make test`) and `tests/benchmarks/bench_fuzz.py` (>= 10,000 cases each in `make bench`).

Each target is a hypothesis strategy and a `check(case)` that raises AssertionError when
a promise is broken.  Any other exception out of `check` is an exception that escaped
the code under test.  The promises:

* handler (Lambda@Edge): never raises; a page request comes back as the very request
  object, unchanged, so the page is served; the pixel always answers the GIF, the beacon
  204 (405 for other methods); every record it sends is a valid event.
* beacon: any body at all (bytes, JSON of any shape, `u`/`r`/`n` of any type) answers
  204 and sends nothing but valid events.
* log parser: a log line (legacy or reordered `#Fields:`, values valid, mangled or
  random) becomes a `Hit` or raises only `Skip`/`Malformed`; a `Hit` normalises to a
  valid event or `Skip`.
* transform Lambda: never raises, answers every record exactly once, never
  `ProcessingFailed`, and `Ok` data is NDJSON of valid events.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections import Counter
from urllib.parse import quote

from hypothesis import strategies as st

from edge import handler as edge_handler
from edge import transform
from edge.config import EdgeConfig
from edge.logformat import LEGACY_FIELDS, V2_EXTRA_FIELDS, Malformed, W3CLayout
from edge.normalize import Skip, normalise
from edge.salts import MemorySaltStore
from edge.schema import validate

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)
CONFIG = EdgeConfig()
SALTS = MemorySaltStore(seed=b"fuzz")
GIF_STATUS, BEACON_STATUS = "200", "204"


class ListSink:
    """Records what the handler puts, so each case can check its own output."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def put(self, record: bytes) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


SINK = ListSink()


def configure() -> None:
    """Point the edge handler and the transform Lambda at in-memory fixtures."""
    edge_handler.configure(sink=SINK, salts=SALTS, config=CONFIG, clock=lambda: NOW)
    transform.configure(salts=SALTS, config=CONFIG)


def restore() -> None:
    edge_handler.configure(sink=None, salts=None, config=None, clock=None)
    transform.configure(salts=None, config=None)


# ---------------------------------------------------------------- building blocks

text = st.text(max_size=40)
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
user_agents = st.sampled_from([
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "curl/8.5.0", "",
]) | text
ips = st.sampled_from(["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.9", "not an ip", ""]) | text
urls = st.sampled_from([
    "https://example.com/", "https://example.com/a/index.html?utm_source=X",
    "http://user:pw@Example.COM:8080//x//y.html#frag", "https://example.com/%E2%28%A1",
    "ftp://example.com/", "https://", "//example.com/", "https://[::1]/", "javascript:alert(1)",
]) | text
paths = st.sampled_from(["/", "/a/", "/a/index.html", "/app.js", "/x.png", "//a//b",
                         "/%ZZ", "/%00", "/é", CONFIG.pixel_path, CONFIG.beacon_path]) | text
methods = st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "get"]) | text


def _header(name: str, value_strategy):
    return st.lists(st.fixed_dictionaries({"key": st.just(name), "value": value_strategy})
                    | junk, max_size=2)


headers = st.fixed_dictionaries({}, optional={
    "host": _header("Host", st.sampled_from(["example.com", "EXAMPLE.com:443", "[::1]:80",
                                               ""]) | text),
    "user-agent": _header("User-Agent", user_agents),
    "referer": _header("Referer", urls),
    "origin": _header("Origin", urls),
    "cloudfront-viewer-address": _header("CloudFront-Viewer-Address",
                                         st.sampled_from(["192.0.2.7:443", "2001:db8::7:443",
                                                          "[2001:db8::7]:443", ":"]) | text),
    "cloudfront-viewer-country": _header("CloudFront-Viewer-Country",
                                         st.sampled_from(["DE", "de", "XX1", ""]) | text),
    "cloudfront-viewer-city": _header("CloudFront-Viewer-City", text),
    "cloudfront-is-mobile-viewer": _header("CloudFront-Is-Mobile-Viewer",
                                           st.sampled_from(["true", "false"]) | text),
}) | st.dictionaries(text, junk, max_size=3) | junk


def _body(data: bytes, encoding="base64", truncated=False) -> dict:
    raw = base64.b64encode(data).decode() if encoding == "base64" else data.decode("latin-1")
    return {"inputTruncated": truncated, "action": "read-only", "encoding": encoding,
            "data": raw}


beacon_payloads = st.one_of(
    st.binary(max_size=200),
    junk.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"u": urls | junk, "r": urls | junk,
                                        "n": text | junk}).map(lambda d: json.dumps(d).encode()),
    st.just(b'{"u": "https://example.com/' + b"a" * 20_000 + b'"}'),
    st.just(b"[" * 5000 + b"]" * 5000),
)
bodies = st.none() | beacon_payloads.map(_body) | st.builds(
    _body, st.binary(max_size=60), st.sampled_from(["base64", "text", "gzip"]), st.booleans()
) | junk


hosts = st.sampled_from(["example.com", "EXAMPLE.com:443", "www.example.com.", "[::1]:80",
                         ""]) | text


@st.composite
def cloudfront_events(draw):
    """A viewer- or origin-request event: well-formed, then 0-3 parts wrecked (hypothesis
    prefers few, so most cases get past the envelope and exercise the recording path)."""
    request = {
        "clientIp": draw(ips),
        "headers": {"host": [{"key": "Host", "value": draw(hosts)}],
                    "user-agent": [{"key": "User-Agent", "value": draw(user_agents)}]},
        "method": draw(st.sampled_from(["GET", "GET", "POST", "HEAD", "OPTIONS"])),
        "querystring": draw(st.builds(lambda u, r, n: f"u={quote(u)}&r={quote(r)}&n={n}",
                                      urls, urls, text) | text),
        "uri": draw(paths),
    }
    extra = draw(headers)
    if isinstance(extra, dict):
        request["headers"].update(extra)
    config = {"distributionDomainName": "d111111abcdef8.cloudfront.net",
              "eventType": draw(st.sampled_from(["viewer-request", "origin-request"])),
              "requestId": draw(st.sampled_from(["REQ-1", "", "x" * 300]))}
    if request["uri"] == CONFIG.beacon_path or draw(st.booleans()):
        request["body"] = draw(bodies)
    wrecks = draw(st.lists(st.sampled_from(["clientIp", "headers", "method", "querystring",
                                            "uri", "body", "config", "drop", "event"]),
                           max_size=3, unique=True))
    for part in wrecks:
        if part == "config":
            config = draw(junk)
        elif part == "drop":
            request.pop(draw(st.sampled_from(sorted(request))), None)
        elif part != "event":
            request[part] = draw(junk)
    if "event" in wrecks:  # not a CloudFront event at all
        return draw(junk)
    return {"Records": [{"cf": {"config": config, "request": request}}]}


@st.composite
def beacon_events(draw):
    payload = draw(beacon_payloads)
    request = {"clientIp": "192.0.2.44", "method": "POST", "uri": CONFIG.beacon_path,
               "querystring": "", "headers": draw(headers), "body": _body(payload)}
    return {"Records": [{"cf": {"config": {"eventType": "viewer-request",
                                           "requestId": "BEACON-1"}, "request": request}}]}


# ---------------------------------------------------------------- the handler


def _request_of(event):
    try:
        cf = event["Records"][0]["cf"]
        return cf["request"] if isinstance(cf, dict) else None
    except (KeyError, IndexError, TypeError):
        return None


def check_handler(event) -> str:
    SINK.records.clear()
    request = _request_of(event)
    before = copy.deepcopy(request)
    result = edge_handler.handler(event, None)
    for record in SINK.records:
        assert validate(json.loads(record)) == [], record
    if not isinstance(request, dict):
        return "not an event"
    uri, method = request.get("uri"), request.get("method")
    if uri == CONFIG.pixel_path:
        assert result["status"] == GIF_STATUS and result["bodyEncoding"] == "base64"
        kind = "pixel"
    elif uri == CONFIG.beacon_path:
        expected = BEACON_STATUS if method in ("POST", "OPTIONS") else "405"
        assert result["status"] == expected
        kind = "beacon"
    else:  # a page: the request goes on to the cache/origin, untouched
        assert result is request
        assert request == before
        kind = "page"
    return f"{kind} {'recorded' if SINK.records else 'not recorded'}"


def check_beacon(event) -> str:
    SINK.records.clear()
    result = edge_handler.handler(event, None)
    assert result["status"] == BEACON_STATUS
    assert len(SINK.records) <= 1
    for record in SINK.records:
        e = json.loads(record)
        assert validate(e) == [] and e["ingest"] == "beacon", e
    return "recorded" if SINK.records else "not recorded"


# ---------------------------------------------------------------- the log parser

LOG_FIELDS = LEGACY_FIELDS + V2_EXTRA_FIELDS
_VALID = {
    "date": "2026-03-01", "time": "12:00:01", "x-edge-location": "FRA56-P1", "sc-bytes": "512",
    "c-ip": "192.0.2.10", "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net",
    "cs-uri-stem": "/blog/", "sc-status": "200", "cs(Referer)": "https://www.google.com/",
    "cs(User-Agent)": "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:133.0)%20Gecko/20100101"
                      "%20Firefox/133.0",
    "cs-uri-query": "utm_source=news", "x-edge-request-id": "REQ-LOG-1",
    "x-host-header": "example.com", "timestamp": "1772366401", "timestamp(ms)": "1772366401123",
    "c-country": "DE",
}
field_values = st.sampled_from(["-", "", "%", "%ZZ", "%00", "%E2%28%A1", "000", "999",
                                "9999-99-99", "24:61:61", "1e400", "-1", "NaN", "/_e/p.gif",
                                "u=https%253A%252F%252Fexample.com%252F&n=x"]) | text


@st.composite
def log_lines(draw):
    """(#Fields names, one data line): a valid line with some values mangled, or noise."""
    fields = list(draw(st.permutations(LOG_FIELDS)) if draw(st.booleans()) else LEGACY_FIELDS)
    if draw(st.booleans()):
        fields = fields[: draw(st.integers(1, len(fields)))]
    values = [_VALID.get(f, "-") for f in fields]
    for i in draw(st.lists(st.integers(0, len(fields) - 1), max_size=4)):
        values[i] = draw(field_values)
    line = "\t".join(values)
    line = draw(st.sampled_from([line, line + "\t", line.replace("\t", " ", 1)])
                | st.text(max_size=200))
    return fields, line


def check_log_line(case) -> str:
    fields, line = case
    layout = W3CLayout(fields)
    try:
        hit = layout.hit(line, "fallback-id", "log-import", CONFIG.pixel_path)
    except Skip:
        return "skipped"
    except Malformed:
        return "malformed"
    try:
        event = normalise(hit, SALTS)
    except Skip:
        return "skipped"
    assert validate(event) == [], event
    return "event"


# ---------------------------------------------------------------- the transform Lambda

_log_record = st.fixed_dictionaries({}, optional={
    name: field_values | st.just(_VALID.get(name, "-")) | junk for name in LOG_FIELDS})
record_payloads = st.one_of(
    _log_record.map(lambda r: json.dumps(r).encode()),
    st.lists(_log_record, max_size=3).map(lambda rs: json.dumps(rs).encode()),
    log_lines().map(lambda c: ("#Fields: " + " ".join(c[0]) + "\n" + c[1]).encode()),
    st.binary(max_size=120),
)
firehose_records = st.one_of(
    record_payloads.map(lambda b: base64.b64encode(b).decode()),
    text,
    junk,
)


@st.composite
def transform_batches(draw):
    records = []
    for i, data in enumerate(draw(st.lists(firehose_records, min_size=1, max_size=4))):
        records.append({"recordId": f"r{i}", "approximateArrivalTimestamp": 1772366401000,
                        "data": data})
    if draw(st.booleans()):
        records.append(draw(junk))
    return {"invocationId": "fuzz", "records": records}


def check_transform(batch) -> str:
    out = transform.handler(batch, None)
    answered = [e["recordId"] for e in out["records"]]
    expected = [r.get("recordId") for r in batch["records"] if isinstance(r, dict)]
    assert answered == expected
    results = Counter(e["result"] for e in out["records"])
    assert set(results) <= {transform.OK, transform.DROPPED}, results
    for entry in out["records"]:
        if entry["result"] == transform.OK:
            for line in base64.b64decode(entry["data"]).splitlines():
                event = json.loads(line)
                assert validate(event) == [] and event["ingest"] == "log-stream", event
    return "some Ok" if results[transform.OK] else "all Dropped"


TARGETS = {
    "handler": (cloudfront_events(), check_handler),
    "beacon": (beacon_events(), check_beacon),
    "log parser": (log_lines(), check_log_line),
    "transform": (transform_batches(), check_transform),
}
