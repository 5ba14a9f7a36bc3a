"""The Firehose transformation Lambda of the log-stream door, on crafted Firehose events."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from edge import transform
from edge.config import EdgeConfig
from edge.logformat import LEGACY_FIELDS
from edge.normalize import visitor_id
from edge.salts import MemorySaltStore
from edge.schema import COLUMNS, validate

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
SALTS = MemorySaltStore(seed=b"transform")


@pytest.fixture(autouse=True)
def seeded():
    transform.configure(salts=SALTS, config=EdgeConfig())
    yield
    transform.configure()


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def firehose_event(*payloads: bytes | str) -> dict:
    return {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/edgestats",
        "region": "us-east-1",
        "records": [{"recordId": f"r{i}", "approximateArrivalTimestamp": 1772364302500,
                     "data": b64(p)} for i, p in enumerate(payloads)],
    }


def v2_json(**kw) -> str:
    """One record of the `json` output format (values URL-encoded as CloudFront writes them)."""
    rec = {
        "timestamp(ms)": "1772364302123", "DistributionId": "E1EXAMPLE", "c-country": "DE",
        "x-edge-request-id": "V2jsonReq01V2jsonReq01V2jsonReq01V2jsonReq01V2js==",
        "x-host-header": "www.example.com", "cs(Host)": "d111111abcdef8.cloudfront.net",
        "cs-method": "GET", "cs-uri-stem": "/pricing/", "cs-uri-query": "utm_source=hn",
        "sc-status": "200", "cs(Referer)": "https://news.ycombinator.com/item?id=1",
        "cs(User-Agent)": quote(FIREFOX, safe="/;():"), "c-ip": "203.0.113.9", "asn": "3320",
        "x-edge-result-type": "Hit", "cache-behavior-path-pattern": "*",
    }
    rec.update(kw)
    return json.dumps(rec)


def decoded(entry: dict) -> list[dict]:
    return [json.loads(line) for line in base64.b64decode(entry["data"]).splitlines()]


def test_json_page_view_is_ok_with_the_exact_event():
    [entry] = transform.handler(firehose_event(v2_json()), None)["records"]
    assert (entry["recordId"], entry["result"]) == ("r0", "Ok")
    [event] = decoded(entry)
    want = dict.fromkeys(COLUMNS)
    want.update(
        schema_version=1, event_id="V2jsonReq01V2jsonReq01V2jsonReq01V2jsonReq01V2js==",
        event_time="2026-03-01T11:25:02.123Z", event_type="pageview", site="www.example.com",
        path="/pricing/", referrer_host="news.ycombinator.com", utm_source="hn", country="DE",
        device_type="desktop", browser="Firefox", browser_version="128", os="Ubuntu",
        is_bot=False, ingest="log-stream",
        visitor_id=visitor_id(SALTS.salt_for(dt.date(2026, 3, 1)),
                              "www.example.com", "203.0.113.9", FIREFOX),
    )
    assert event == want
    assert validate(event) == []


def test_results_per_record_in_order():
    out = transform.handler(firehose_event(
        v2_json(),                                                   # page view
        v2_json(**{"cs-uri-stem": "/assets/app.js"}),                # asset
        v2_json(**{"sc-status": "502"}),                             # error
        v2_json(**{"cs-method": "POST"}),                            # not a GET
        v2_json(**{"cs(User-Agent)": quote(BINGBOT)}),               # bot: kept
        "this is not a log record",                                  # garbage
        json.dumps({"timestamp(ms)": "1772364302123"}),              # JSON without a page
        b"\xff\xfe\x00\x01binary",                                   # not UTF-8
    ), None)
    assert [(r["recordId"], r["result"]) for r in out["records"]] == [
        ("r0", "Ok"), ("r1", "Dropped"), ("r2", "Dropped"), ("r3", "Dropped"), ("r4", "Ok"),
        ("r5", "Dropped"), ("r6", "Dropped"), ("r7", "Dropped"),
    ]
    [bot] = decoded(out["records"][4])
    assert (bot["is_bot"], bot["device_type"], bot["browser"]) == (True, "bot", "bingbot")
    # not-Ok records hand back what came in
    assert out["records"][1]["data"] == firehose_event(
        v2_json(), v2_json(**{"cs-uri-stem": "/assets/app.js"}))["records"][1]["data"]


def test_not_base64_is_dropped_never_processing_failed():
    # ProcessingFailed would make Firehose write the raw record (IP, UA) to errors/.
    event = firehose_event("x")
    event["records"][0]["data"] = "%%% not base64 %%%"
    [entry] = transform.handler(event, None)["records"]
    assert entry == {"recordId": "r0", "result": "Dropped", "data": "%%% not base64 %%%"}


def test_many_records_in_one_keep_only_the_events():
    ndjson = "\n".join([
        v2_json(**{"x-edge-request-id": "a"}),
        v2_json(**{"x-edge-request-id": "b", "cs-uri-stem": "/logo.svg"}),
        v2_json(**{"x-edge-request-id": "c", "cs-uri-stem": "/blog/index.html",
                   "timestamp(ms)": "-", "date": "2026-03-01", "time": "23:59:59"}),
    ])
    as_array = json.dumps([json.loads(v2_json(**{"x-edge-request-id": "d"}))])
    out = transform.handler(firehose_event(ndjson, as_array), None)["records"]
    assert [e["result"] for e in out] == ["Ok", "Ok"]
    got = [(e["event_id"], e["path"], e["event_time"]) for e in decoded(out[0])]
    assert got == [("a", "/pricing/", "2026-03-01T11:25:02.123Z"),
                   ("c", "/blog/", "2026-03-01T23:59:59.000Z")]
    assert [e["event_id"] for e in decoded(out[1])] == ["d"]


AWS_DOC_VALUES = {
    "date": "2019-12-13", "time": "22:36:26", "x-edge-location": "SEA19-C1", "sc-bytes": "900",
    "c-ip": "192.0.2.200", "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net",
    "cs-uri-stem": "/", "sc-status": "200", "cs(Referer)": "-",
    "cs(User-Agent)": quote(FIREFOX, safe="/;():"), "cs-uri-query": "-", "cs(Cookie)": "-",
    "x-edge-result-type": "Miss",
    "x-edge-request-id": "3AqrZGCnF_g0-5KOvfA7c9XLcf4YGvMFSeFdIetR1N_2y8jSis8Zxg==",
    "x-host-header": "www.example.com", "cs-protocol": "http", "cs-bytes": "735",
    "time-taken": "0.107",
}


def w3c(fields, sep="\t", **kw) -> str:
    values = {**AWS_DOC_VALUES, **kw}
    return sep.join(values.get(f, "-") for f in fields)


def test_w3c_line_in_the_default_legacy_order():
    [entry] = transform.handler(firehose_event(w3c(LEGACY_FIELDS)), None)["records"]
    assert entry["result"] == "Ok"
    [event] = decoded(entry)
    assert (event["event_id"], event["site"], event["path"], event["event_time"]) == (
        "3AqrZGCnF_g0-5KOvfA7c9XLcf4YGvMFSeFdIetR1N_2y8jSis8Zxg==", "www.example.com", "/",
        "2019-12-13T22:36:26.000Z")


def test_w3c_and_plain_in_the_baked_field_order():
    fields = ("timestamp(ms)", "c-ip", "cs-method", "x-host-header", "cs-uri-stem",
              "sc-status", "cs(User-Agent)", "x-edge-request-id", "c-country")
    transform.configure(salts=SALTS, config=EdgeConfig(log_fields=fields))
    tabbed = w3c(fields, "\t", **{"timestamp(ms)": "1772364302123", "c-country": "FR"})
    spaced = w3c(fields, " ", **{"timestamp(ms)": "1772364302124", "c-country": "FR"})
    out = transform.handler(firehose_event(tabbed, spaced), None)["records"]
    assert [e["result"] for e in out] == ["Ok", "Ok"]
    times = [(ev["event_time"], ev["country"]) for e in out for ev in decoded(e)]
    assert times == [("2026-03-01T11:25:02.123Z", "FR"), ("2026-03-01T11:25:02.124Z", "FR")]


def test_fields_header_inside_a_record_wins():
    fields = list(reversed(LEGACY_FIELDS))
    text = "#Version: 1.0\n#Fields: " + " ".join(fields) + "\n" + w3c(fields) + "\n"
    [entry] = transform.handler(firehose_event(text), None)["records"]
    assert entry["result"] == "Ok"
    assert decoded(entry)[0]["path"] == "/"


def test_sites_outside_allowed_sites_are_dropped():
    transform.configure(salts=SALTS, config=EdgeConfig(allowed_sites=("WWW.Example.com",)))
    out = transform.handler(firehose_event(
        v2_json(), v2_json(**{"x-host-header": "evil.example.net"})), None)["records"]
    assert [e["result"] for e in out] == ["Ok", "Dropped"]


def test_output_never_holds_the_ip_or_user_agent():
    out = transform.handler(firehose_event(v2_json(), w3c(LEGACY_FIELDS)), None)["records"]
    data = b"".join(base64.b64decode(e["data"]) for e in out)
    for secret in ("203.0.113.9", "192.0.2.200", FIREFOX, quote(FIREFOX, safe="/;():")):
        assert secret.encode() not in data


def test_handler_logs_counts_only(capsys):
    transform.handler(firehose_event(v2_json(), "garbage"), None)
    out = capsys.readouterr().out
    assert json.loads(out) == {"edgestats": "transform", "records": 2, "Ok": 1,
                               "Dropped": 1, "garbage": 1}


@pytest.mark.parametrize("event", [None, 42, "x", {}, {"records": None}, {"records": "x"},
                                   {"records": [None, 1, "x"]}])
def test_malformed_invocations_answer_without_raising(event):
    assert transform.handler(event, None) == {"records": []}


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=3),
    max_leaves=8,
)
_field_names = st.sampled_from(
    ["timestamp(ms)", "timestamp", "date", "time", "c-ip", "cs-uri-stem", "sc-status",
     "cs-method", "x-host-header", "cs(User-Agent)", "cs(Referer)", "cs-uri-query",
     "x-edge-request-id", "c-country", "other"])
_payload = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.dictionaries(_field_names, _json_value | st.text(max_size=30), max_size=12)
    .map(lambda d: json.dumps(d).encode()),
    st.lists(st.text(alphabet="ab/%-\t 0123456789:.", max_size=40), max_size=4)
    .map(lambda lines: "\n".join(lines).encode()),
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_payload, st.booleans()), max_size=6))
def test_fuzz_every_record_answered_never_raises(payloads):
    event = firehose_event(*[p for p, _ in payloads])
    for rec, (_, mangle) in zip(event["records"], payloads, strict=True):
        if mangle:
            rec["data"] = rec["data"][:-1] + "!"
    out = transform.handler(event, None)["records"]
    assert [e["recordId"] for e in out] == [r["recordId"] for r in event["records"]]
    for entry in out:
        assert entry["result"] in ("Ok", "Dropped")
        if entry["result"] == "Ok":
            for ev in decoded(entry):
                assert validate(ev) == []
