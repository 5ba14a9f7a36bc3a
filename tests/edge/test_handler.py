"""The Lambda@Edge handler on CloudFront events shaped like the AWS documentation's.

Expected events are written out by hand; visitor ids are recomputed here with `hmac`
from the fixed test salt, not with the code under test.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge import handler as edge_handler
from edge.config import EdgeConfig
from edge.firehose import AwsFirehoseSink, LocalFirehose
from edge.schema import validate

SALT = bytes(range(16))
NOW = dt.datetime(2026, 11, 20, 13, 5, 9, 123456, tzinfo=dt.timezone.utc)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GIF_43 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
    b"\x02\x02D\x01\x00;"
)
REQUEST_ID = "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="


class FixedSalts:
    def salt_for(self, day: dt.date) -> bytes:
        assert day == NOW.date()
        return SALT


class BrokenSalts:
    def salt_for(self, day: dt.date) -> bytes:
        raise ConnectionError("salt store unreachable")


class ListSink:
    def __init__(self):
        self.records: list[bytes] = []

    def put(self, record: bytes) -> None:
        self.records.append(record)

    def events(self) -> list[dict]:
        return [json.loads(r) for r in self.records]


class FailingSink:
    def put(self, record: bytes) -> None:
        raise TimeoutError("Read timeout on endpoint URL")


def vid(site: str, ip: str, ua: str) -> str:
    return hmac.new(SALT, f"{site}\0{ip}\0{ua}".encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def sink():
    s = ListSink()
    edge_handler.configure(sink=s, salts=FixedSalts(), config=EdgeConfig(), clock=lambda: NOW)
    edge_handler.stats.clear()
    yield s
    edge_handler.configure(sink=None, salts=None, config=None, clock=None)


def hdrs(**pairs: str) -> dict:
    """CloudFront header map; keyword `cloudfront_viewer_country` -> CloudFront-Viewer-Country."""
    out = {}
    for name, value in pairs.items():
        key = "-".join(part.capitalize() for part in name.split("_"))
        key = key.replace("Cloudfront", "CloudFront")
        out[key.lower()] = [{"key": key, "value": value}]
    return out


def viewer_request(uri="/", method="GET", querystring="", headers=None, client_ip="203.0.113.178",
                   body=None, event_type="viewer-request") -> dict:
    request = {
        "clientIp": client_ip,
        "headers": headers if headers is not None else hdrs(host="d111111abcdef8.cloudfront.net",
                                                             user_agent="curl/7.66.0",
                                                             accept="*/*"),
        "method": method,
        "querystring": querystring,
        "uri": uri,
    }
    if body is not None:
        request["body"] = body
    return {"Records": [{"cf": {
        "config": {
            "distributionDomainName": "d111111abcdef8.cloudfront.net",
            "distributionId": "EDFDVBD6EXAMPLE",
            "eventType": event_type,
            "requestId": REQUEST_ID,
        },
        "request": request,
    }}]}


def the_request(event: dict) -> dict:
    return event["Records"][0]["cf"]["request"]


def base_event(**overrides) -> dict:
    e = {
        "schema_version": 1, "event_id": REQUEST_ID, "event_time": "2026-11-20T13:05:09.123Z",
        "event_type": "pageview", "event_name": None, "site": "example.com", "path": "/",
        "referrer_host": None, "utm_source": None, "utm_medium": None, "utm_campaign": None,
        "utm_term": None, "utm_content": None, "country": None, "region": None, "city": None,
        "timezone": None, "device_type": "desktop", "browser": "Chrome", "browser_version": "131",
        "os": "Windows", "os_version": "10", "is_bot": False, "ingest": "edge",
    }
    e.update(overrides)
    return e


# ---------------------------------------------------------------- page capture


def test_documented_viewer_request_example_is_recorded_and_passed_on(sink):
    """The AWS docs' viewer-request example verbatim: curl, so a bot page view."""
    event = viewer_request()
    before = copy.deepcopy(event)
    result = edge_handler.handler(event, None)
    assert result is the_request(event)
    assert event == before  # unchanged, not even normalised in place
    assert sink.events() == [base_event(
        site="d111111abcdef8.cloudfront.net", device_type="bot", browser="curl",
        browser_version="7", os=None, os_version=None, is_bot=True,
        visitor_id=vid("d111111abcdef8.cloudfront.net", "203.0.113.178", "curl/7.66.0"),
    )]


def test_page_view_with_cloudfront_viewer_headers(sink):
    headers = hdrs(
        host="Example.COM",
        user_agent=CHROME,
        referer="https://www.google.com/search?q=x",
        cloudfront_viewer_country="DE",
        cloudfront_viewer_country_region="BE",
        cloudfront_viewer_city="M%C3%BCnchen",
        cloudfront_viewer_time_zone="Europe/Berlin",
        cloudfront_viewer_address="2001:db8::7:51234",
        cloudfront_is_mobile_viewer="false",
        cloudfront_is_tablet_viewer="false",
        cloudfront_is_desktop_viewer="true",
    )
    event = viewer_request(uri="/blog//post/index.html", headers=headers,
                           querystring="utm_source=Newsletter&utm_medium=email&x=1")
    assert edge_handler.handler(event, None) is the_request(event)
    # The viewer address wins over clientIp (a proxy in front would show as clientIp).
    assert sink.events() == [base_event(
        path="/blog/post/", referrer_host="google.com", utm_source="Newsletter",
        utm_medium="email", country="DE", region="BE", city="München",
        timezone="Europe/Berlin", visitor_id=vid("example.com", "2001:db8::7", CHROME),
    )]
    assert validate(sink.events()[0]) == []


def test_cloudfront_device_headers_override_the_user_agent(sink):
    headers = hdrs(host="example.com", user_agent=CHROME, cloudfront_is_tablet_viewer="true")
    edge_handler.handler(viewer_request(uri="/a", headers=headers), None)
    assert sink.events()[0]["device_type"] == "tablet"


@pytest.mark.parametrize("uri,method", [
    ("/logo.png", "GET"), ("/app.js", "GET"), ("/contact", "POST"), ("/", "HEAD"),
])
def test_assets_and_non_get_requests_are_not_recorded(sink, uri, method):
    event = viewer_request(uri=uri, method=method, headers=hdrs(host="example.com",
                                                                user_agent=CHROME))
    assert edge_handler.handler(event, None) is the_request(event)
    assert sink.records == []


def test_origin_request_uses_the_viewer_host_when_forwarded(sink):
    """Origin-request shaped like the docs' example, with the viewer's Host forwarded."""
    event = viewer_request(uri="/pricing", event_type="origin-request", headers=hdrs(
        host="www.example.com", user_agent=IPHONE,
        x_forwarded_for="203.0.113.178", via="2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net "
        "(CloudFront)", cloudfront_viewer_country="FR"))
    the_request(event)["origin"] = {"custom": {
        "customHeaders": {}, "domainName": "origin.example.net", "keepaliveTimeout": 5,
        "path": "", "port": 443, "protocol": "https", "readTimeout": 30,
        "sslProtocols": ["TLSv1.2"]}}
    assert edge_handler.handler(event, None) is the_request(event)
    assert sink.events() == [base_event(
        site="www.example.com", path="/pricing", country="FR", device_type="mobile",
        browser="Mobile Safari", browser_version="17", os="iOS", os_version="17",
        visitor_id=vid("www.example.com", "203.0.113.178", IPHONE))]


def test_origin_request_with_the_origin_host_falls_back_to_the_distribution(sink):
    event = viewer_request(event_type="origin-request", headers=hdrs(
        host="example.org", user_agent=CHROME))
    the_request(event)["origin"] = {"custom": {"domainName": "example.org", "path": "",
                                               "port": 443, "protocol": "https"}}
    edge_handler.handler(event, None)
    assert sink.events()[0]["site"] == "d111111abcdef8.cloudfront.net"


@pytest.mark.parametrize("origin", [
    {"custom": {"domainName": "origin.example.net", "path": "", "port": 443, "protocol": "https"}},
    None,  # whatever the event says of the origin, the forwarded host wins
])
def test_origin_request_reads_the_host_the_cloudfront_function_forwarded(sink, origin):
    event = viewer_request(uri="/pricing", event_type="origin-request", headers=hdrs(
        host="origin.example.net", x_forwarded_host="www.example.com", user_agent=CHROME))
    if origin:
        the_request(event)["origin"] = origin
    assert edge_handler.handler(event, None) is the_request(event)
    assert [(e["site"], e["path"]) for e in sink.events()] == [("www.example.com", "/pricing")]


def test_viewer_request_ignores_a_viewer_sent_forwarded_host(sink):
    event = viewer_request(uri="/pricing", headers=hdrs(
        host="www.example.com", x_forwarded_host="evil.example.org", user_agent=CHROME))
    edge_handler.handler(event, None)
    assert [e["site"] for e in sink.events()] == ["www.example.com"]


# ---------------------------------------------------------------- pixel


PIXEL_HEADERS = dict(host="stats.example.com", user_agent=CHROME, cloudfront_viewer_country="JP",
                     referer="https://www.example.com/blog/")


def test_pixel_answers_the_43_byte_gif_and_records_a_page_view(sink):
    query = ("u=https%3A%2F%2Fwww.example.com%2Fblog%2F%3Futm_source%3Dnewsletter%26utm_campaign"
             "%3Dfall&r=https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1")
    response = edge_handler.handler(
        viewer_request(uri="/_e/p.gif", querystring=query, headers=hdrs(**PIXEL_HEADERS)), None)
    assert response == {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "content-type": [{"key": "Content-Type", "value": "image/gif"}],
            "cache-control": [{"key": "Cache-Control",
                               "value": "no-store, no-cache, must-revalidate, max-age=0"}],
            "pragma": [{"key": "Pragma", "value": "no-cache"}],
            "expires": [{"key": "Expires", "value": "Thu, 01 Jan 1970 00:00:00 GMT"}],
        },
        "body": response["body"],
        "bodyEncoding": "base64",
    }
    assert base64.b64decode(response["body"]) == GIF_43
    assert len(GIF_43) == 43
    assert sink.events() == [base_event(
        site="www.example.com", path="/blog/", referrer_host="news.ycombinator.com",
        utm_source="newsletter", utm_campaign="fall", country="JP", ingest="pixel",
        visitor_id=vid("www.example.com", "203.0.113.178", CHROME))]


def test_pixel_custom_event_and_self_referral(sink):
    query = "u=https://example.com/pricing&r=https://www.example.com/&n=signup"
    edge_handler.handler(viewer_request(uri="/_e/p.gif", querystring=query,
                                        headers=hdrs(**PIXEL_HEADERS)), None)
    assert sink.events() == [base_event(
        event_type="custom", event_name="signup", path="/pricing", referrer_host=None,
        country="JP", ingest="pixel", visitor_id=vid("example.com", "203.0.113.178", CHROME))]


@pytest.mark.parametrize("query", ["", "r=https://a.example/", "u=", "u=not-a-url",
                                   "u=ftp://example.com/", "u=http://[::1/x"])
def test_pixel_without_a_usable_page_url_still_answers_the_gif(sink, query):
    response = edge_handler.handler(viewer_request(uri="/_e/p.gif", querystring=query,
                                                   headers=hdrs(**PIXEL_HEADERS)), None)
    assert response["status"] == "200"
    assert base64.b64decode(response["body"]) == GIF_43
    assert sink.records == []


def test_pixel_for_a_site_not_allowed_is_answered_but_not_recorded(sink):
    edge_handler.configure(config=EdgeConfig(allowed_sites=("example.com",)))
    for u in ("https://example.com/", "https://evil.example.net/", "https://EXAMPLE.com:8443/a"):
        response = edge_handler.handler(viewer_request(
            uri="/_e/p.gif", querystring=f"u={u}", headers=hdrs(**PIXEL_HEADERS)), None)
        assert response["status"] == "200"
    assert [e["site"] + e["path"] for e in sink.events()] == ["example.com/", "example.com/a"]
    assert edge_handler.stats["skipped:site-not-allowed"] == 1


# ---------------------------------------------------------------- beacon


def beacon(payload: bytes, origin="https://www.example.com", truncated=False) -> dict:
    headers = hdrs(host="stats.example.com", user_agent=IPHONE, origin=origin,
                   content_type="text/plain;charset=UTF-8", cloudfront_viewer_country="BR")
    return viewer_request(uri="/_e/collect", method="POST", headers=headers, body={
        "inputTruncated": truncated, "action": "read-only", "encoding": "base64",
        "data": base64.b64encode(payload).decode()})


NO_CONTENT = {
    "status": "204",
    "statusDescription": "No Content",
    "headers": {
        "access-control-allow-origin": [{"key": "Access-Control-Allow-Origin",
                                         "value": "https://www.example.com"}],
        "vary": [{"key": "Vary", "value": "Origin"}],
        "cache-control": [{"key": "Cache-Control",
                           "value": "no-store, no-cache, must-revalidate, max-age=0"}],
    },
}


def test_beacon_answers_204_and_records_a_custom_event(sink):
    payload = json.dumps({"u": "https://www.example.com/docs/?utm_source=twitter",
                          "r": "https://t.co/abc", "n": "download"}).encode()
    assert edge_handler.handler(beacon(payload), None) == NO_CONTENT
    assert sink.events() == [base_event(
        event_type="custom", event_name="download", site="www.example.com", path="/docs/",
        referrer_host="t.co", utm_source="twitter", country="BR", device_type="mobile",
        browser="Mobile Safari", browser_version="17", os="iOS", os_version="17",
        ingest="beacon", visitor_id=vid("www.example.com", "203.0.113.178", IPHONE))]


def test_beacon_page_view_without_a_name(sink):
    edge_handler.handler(beacon(b'{"u":"https://www.example.com/","r":null}'), None)
    (e,) = sink.events()
    assert (e["event_type"], e["event_name"], e["path"], e["ingest"]) == (
        "pageview", None, "/", "beacon")


def test_cors_preflight(sink):
    event = viewer_request(uri="/_e/collect", method="OPTIONS", headers=hdrs(
        host="stats.example.com", origin="https://shop.example.org",
        access_control_request_method="POST", access_control_request_headers="content-type"))
    assert edge_handler.handler(event, None) == {
        "status": "204",
        "statusDescription": "No Content",
        "headers": {
            "access-control-allow-origin": [{"key": "Access-Control-Allow-Origin",
                                             "value": "https://shop.example.org"}],
            "vary": [{"key": "Vary", "value": "Origin"}],
            "cache-control": [{"key": "Cache-Control",
                               "value": "no-store, no-cache, must-revalidate, max-age=0"}],
            "access-control-allow-methods": [{"key": "Access-Control-Allow-Methods",
                                              "value": "POST, OPTIONS"}],
            "access-control-allow-headers": [{"key": "Access-Control-Allow-Headers",
                                              "value": "content-type"}],
            "access-control-max-age": [{"key": "Access-Control-Max-Age", "value": "86400"}],
        },
    }
    assert sink.records == []


def test_get_on_the_beacon_path_is_405(sink):
    response = edge_handler.handler(viewer_request(uri="/_e/collect"), None)
    assert response["status"] == "405"
    assert response["headers"]["allow"] == [{"key": "Allow", "value": "POST, OPTIONS"}]
    assert sink.records == []


# ---------------------------------------------------------------- fail-open


def log_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("payload,reason", [
    (b"{not json", "JSONDecodeError"),
    (b"{\"u\": \"https://example.com/\xff\"}", "UnicodeDecodeError"),
    (b'["u"]', None),
    (b'{"r":"https://a.example/"}', None),
    (b'{"u":42}', None),
])
def test_beacon_garbage_still_gets_204(sink, caplog, payload, reason):
    caplog.set_level(logging.WARNING, logger="edgestats.edge")
    assert edge_handler.handler(beacon(payload), None) == NO_CONTENT
    assert sink.records == []
    if reason:
        assert [r.getMessage() for r in caplog.records] == [
            f"edgestats failed open while recording a beacon: {reason}"]
    else:
        assert caplog.records == []


def test_truncated_or_bad_base64_beacon_body_is_not_recorded(sink):
    assert edge_handler.handler(beacon(b'{"u":"https://a.example/"}', truncated=True),
                                None) == NO_CONTENT
    event = beacon(b"")
    the_request(event)["body"]["data"] = "!!not base64!!"
    assert edge_handler.handler(event, None) == NO_CONTENT
    assert sink.records == []


def test_sink_failure_fails_open_with_one_line_that_leaks_nothing(sink, caplog):
    caplog.set_level(logging.DEBUG)
    edge_handler.configure(sink=FailingSink())
    page = viewer_request(uri="/secret-page", querystring="token=hunter2",
                          headers=hdrs(host="example.com", user_agent=CHROME))
    assert edge_handler.handler(page, None) is the_request(page)
    pixel = edge_handler.handler(viewer_request(
        uri="/_e/p.gif", querystring="u=https://example.com/?token=hunter2",
        headers=hdrs(**PIXEL_HEADERS)), None)
    assert base64.b64decode(pixel["body"]) == GIF_43
    assert [r.getMessage() for r in caplog.records] == [
        "edgestats failed open while recording a page view: TimeoutError",
        "edgestats failed open while recording a pixel hit: TimeoutError",
    ]
    text = log_text(caplog)
    for secret in ("203.0.113.178", CHROME, "Chrome", "hunter2", "secret-page"):
        assert secret not in text
    assert edge_handler.stats["failed"] == 2


def test_salt_store_failure_fails_open(sink, caplog):
    edge_handler.configure(salts=BrokenSalts())
    event = viewer_request(uri="/", headers=hdrs(host="example.com", user_agent=CHROME))
    assert edge_handler.handler(event, None) is the_request(event)
    assert [r.getMessage() for r in caplog.records] == [
        "edgestats failed open while recording a page view: ConnectionError"]
    assert sink.records == []


def test_broken_envelope_is_logged_not_raised(sink, caplog):
    assert edge_handler.handler({"Records": []}, None) == {}
    assert edge_handler.handler(None, None) == {}
    assert len(caplog.records) == 2


def test_no_ip_or_user_agent_in_any_record(sink):
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 UniqueMarker/7"
    headers = hdrs(host="example.com", user_agent=ua, cloudfront_viewer_address="198.51.100.23:443")
    edge_handler.handler(viewer_request(uri="/", headers=headers, client_ip="192.0.2.99"), None)
    edge_handler.handler(viewer_request(uri="/_e/p.gif", querystring="u=https://example.com/x",
                                        headers=headers, client_ip="192.0.2.99"), None)
    payload = json.dumps({"u": "https://example.com/y"}).encode()
    b = beacon(payload)
    the_request(b)["headers"] = headers
    the_request(b)["clientIp"] = "192.0.2.99"
    edge_handler.handler(b, None)
    assert len(sink.records) == 3
    blob = b"".join(sink.records)
    for secret in (b"198.51.100.23", b"192.0.2.99", b"UniqueMarker", b"Firefox/133", b"X11"):
        assert secret not in blob


# ---------------------------------------------------------------- the real Firehose sink


@pytest.fixture
def blackhole():
    """A TCP server that accepts and never answers; counts connections."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def loop():
        srv.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                accepted.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    t.join()
    for c in accepted:
        c.close()
    srv.close()


def test_lazy_sink_is_built_from_the_baked_config_with_short_timeouts(sink, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    edge_handler.configure(sink=None, config=EdgeConfig(firehose_stream="edgestats-events",
                                                        firehose_region="eu-west-1"))
    built = edge_handler._get_sink()
    assert isinstance(built, AwsFirehoseSink)
    assert built.stream == "edgestats-events"
    cfg = built.client.meta.config
    assert (cfg.connect_timeout, cfg.read_timeout) == (0.5, 0.5)
    assert cfg.retries["total_max_attempts"] == 1
    assert built.client.meta.region_name == "eu-west-1"


def test_hung_firehose_costs_one_attempt_of_half_a_second(sink, blackhole, caplog, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port, accepted = blackhole
    edge_handler.configure(sink=AwsFirehoseSink("s", "us-east-1",
                                                endpoint_url=f"http://127.0.0.1:{port}"))
    event = viewer_request(uri="/", headers=hdrs(host="example.com", user_agent=CHROME))
    t0 = time.perf_counter()
    assert edge_handler.handler(event, None) is the_request(event)
    elapsed = time.perf_counter() - t0
    assert 0.45 <= elapsed < 2.0  # one 0.5 s read timeout, not several
    assert len(accepted) == 1  # no retry
    assert [r.getMessage() for r in caplog.records] == [
        "edgestats failed open while recording a page view: ReadTimeoutError"]


def test_aws_sink_puts_to_firehose_on_moto(sink, monkeypatch):
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        s3.create_bucket(Bucket="landing")
        fh = boto3.client("firehose", region_name="us-east-1", endpoint_url=endpoint)
        fh.create_delivery_stream(
            DeliveryStreamName="edgestats",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::landing",
                "Prefix": "events/",
            },
        )
        edge_handler.configure(sink=AwsFirehoseSink("edgestats", "us-east-1",
                                                    endpoint_url=endpoint))
        edge_handler.handler(viewer_request(uri="/moto", headers=hdrs(
            host="example.com", user_agent=CHROME)), None)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="landing").get("Contents", [])]
        assert len(keys) == 1 and keys[0].startswith("events/")
        body = s3.get_object(Bucket="landing", Key=keys[0])["Body"].read()
        assert json.loads(body) == base_event(path="/moto",
                                              visitor_id=vid("example.com", "203.0.113.178",
                                                             CHROME))
    finally:
        server.stop()


# ---------------------------------------------------------------- fuzz

FUZZ_IP = "203.0.113.199"
FUZZ_UA = "FuzzAgent/9.9 (zqxjkv)"
text = st.lists(st.characters(codec="utf-8")
               | st.sampled_from(["%", "%zz", "%ff", "%C3%28", "\udcff", "/", "?", "&", "="]),
               max_size=40).map("".join)
header_value = st.one_of(text, st.none(), st.integers(), st.just("x" * 5000))
header_entries = st.lists(st.one_of(
    st.fixed_dictionaries({"key": text, "value": header_value}), st.none(), text), max_size=3)
fuzz_headers = st.dictionaries(
    st.sampled_from(["host", "referer", "origin", "cloudfront-viewer-country",
                     "cloudfront-viewer-city", "cloudfront-viewer-address",
                     "cloudfront-is-mobile-viewer", "content-type", "Host"]) | text,
    header_entries, max_size=6)
fuzz_body = st.one_of(
    st.none(), text,
    st.fixed_dictionaries({
        "inputTruncated": st.booleans(), "action": st.just("read-only"),
        "encoding": st.sampled_from(["base64", "text", "weird"]),
        "data": st.one_of(st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
                          st.builds(lambda d: base64.b64encode(json.dumps(d).encode()).decode(),
                                    st.dictionaries(st.sampled_from(["u", "r", "n"]),
                                                    st.one_of(text, st.integers(), st.none(),
                                                              st.just("https://example.com/p"))
                                                    )),
                          text, st.none())}))
fuzz_uri = st.one_of(st.sampled_from(["/", "/_e/p.gif", "/_e/collect", "/a.html", "/x/"]),
                     text.map(lambda t: "/" + t), st.just("/" + "a/" * 4000), st.none(),
                     st.integers())
fuzz_query = st.one_of(text, st.just("u=" + "https%3A%2F%2Fexample.com%2F" + "a" * 9000),
                       st.just("u=https%3A%2F%2Fexample.com%2F%E2%28%A1&n=%ff%fe"),
                       st.builds(lambda u, r, n: f"u={u}&r={r}&n={n}", text, text, text),
                       st.builds(lambda p, r: f"u=https://example.com/{p}&r={r}", text, text),
                       st.none())


def test_fuzz_never_raises_and_never_writes_ip_or_ua(tmp_path, caplog):
    """Random events through the handler into a real LocalFirehose: no exception, a valid
    answer every time, and neither the IP nor the User-Agent in what lands or is logged."""
    import gzip

    fh = LocalFirehose(tmp_path, buffer_bytes=64 * 1024)
    edge_handler.configure(sink=fh, salts=FixedSalts(), config=EdgeConfig(), clock=lambda: NOW)
    edge_handler.stats.clear()

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(uri=fuzz_uri, method=st.sampled_from(["GET", "POST", "OPTIONS", "HEAD", "", None]),
           query=fuzz_query, headers=fuzz_headers, body=fuzz_body, with_host=st.booleans())
    # One page, pixel and beacon that must record, whatever the generated cases reach:
    # how many of those record varied with the tests run before in the same process.
    @example(uri="/", method="GET", query="", headers={}, body=None, with_host=True)
    @example(uri="/_e/p.gif", method="GET", query="u=https%3A%2F%2Fexample.com%2Fp",
             headers={}, body=None, with_host=True)
    @example(uri="/_e/collect", method="POST", query="", headers={}, with_host=True,
             body={"inputTruncated": False, "action": "read-only", "encoding": "base64",
                   "data": base64.b64encode(b'{"u": "https://example.com/b"}').decode()})
    def one_request(uri, method, query, headers, body, with_host):
        headers = dict(headers)
        if with_host:
            headers["host"] = [{"key": "Host", "value": "example.com"}]
        headers.setdefault("user-agent", [{"key": "User-Agent", "value": FUZZ_UA}])
        event = viewer_request(uri=uri, method=method, querystring=query, headers=headers,
                               client_ip=FUZZ_IP, body=body)
        result = edge_handler.handler(event, None)
        if result is not the_request(event):
            assert result["status"] in ("200", "204", "405")
            if result["status"] == "200":
                assert base64.b64decode(result["body"]) == GIF_43

    try:
        one_request()
    finally:
        fh.close()
        edge_handler.configure(sink=None, salts=None, config=None, clock=None)
    lines = [line for p in sorted(tmp_path.rglob("*.gz"))
             for line in gzip.decompress(p.read_bytes()).splitlines()]
    assert sum(v for k, v in edge_handler.stats.items() if k.startswith("sent:")) == len(lines)
    doors = {json.loads(line)["ingest"] for line in lines}
    assert doors == {"edge", "pixel", "beacon"}, doors  # the examples above record
    blob = b"\n".join(lines)
    assert FUZZ_IP.encode() not in blob
    assert b"FuzzAgent" not in blob and b"zqxjkv" not in blob
    for line in lines:
        assert validate(json.loads(line)) == []
    logged = log_text(caplog)
    assert FUZZ_IP not in logged and "FuzzAgent" not in logged
