"""Every rule of DESIGN section 4 that the normaliser owns, on hand-built cases."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from edge.normalize import (
    Hit,
    Skip,
    format_time,
    geo,
    is_page_path,
    normalise,
    normalise_path,
    normalise_site,
    page_hit_from_url,
    page_view_rule,
    referrer_host,
    utm,
    visitor_id,
)
from edge.salts import MemorySaltStore
from edge.schema import encode, validate

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
T = dt.datetime(2026, 11, 20, 13, 5, 9, 123456, tzinfo=dt.timezone.utc)


def hit(**kw) -> Hit:
    base = dict(time=T, event_id="req-1", host="example.com", uri="/", status=200,
                user_agent=CHROME, client_ip="192.0.2.10")
    base.update(kw)
    return Hit(**base)


@pytest.mark.parametrize(
    "raw, want",
    [
        ("/", "/"),
        ("/a/index.html", "/a/"),
        ("/index.htm", "/"),
        ("/a/index.html/b", "/a/index.html/b"),  # only a final segment is dropped
        ("//a///b//", "/a/b/"),
        ("/caf%C3%A9/", "/café/"),
        ("/a%2Fb", "/a/b"),  # decoded slash is a slash
        ("/About/", "/About/"),  # case-sensitive
        ("/x?utm_source=a#frag", "/x"),
        ("/bad%zzpercent", "/bad%zzpercent"),
        ("/%ff", "/\ufffd"),  # invalid UTF-8 replaced, never raises
        ("a/b", "/a/b"),
        ("/myindex.html", "/myindex.html"),
    ],
)
def test_normalise_path(raw, want):
    assert normalise_path(raw) == want


@pytest.mark.parametrize(
    "path, page",
    [("/", True), ("/a.html", True), ("/a.htm", True), ("/blog/post", True),
     ("/v1.2/", True), ("/app.js", False), ("/style.css", False), ("/img/logo.png", False),
     ("/favicon.ico", False), ("/robots.txt", False), ("/dots.in.dir/page", True)],
)
def test_is_page_path(path, page):
    assert is_page_path(path) is page


@pytest.mark.parametrize(
    "method, status, path, reason",
    [
        ("GET", 200, "/", None),
        ("GET", 304, "/a.html", None),
        ("GET", None, "/a", None),  # viewer-request: status unknown
        ("GET", 301, "/", "status"),
        ("GET", 404, "/", "status"),
        ("GET", 500, "/", "status"),
        ("POST", 200, "/", "not-get"),
        ("HEAD", 200, "/", "not-get"),
        ("GET", 200, "/app.js", "asset"),
    ],
)
def test_page_view_rule(method, status, path, reason):
    assert page_view_rule(method, status, path) == reason


def test_skip_reasons_through_normalise():
    salts = MemorySaltStore(b"s")
    for kw, reason in [({"status": 404}, "status"), ({"method": "POST"}, "not-get"),
                       ({"uri": "/a.css"}, "asset"), ({"host": ""}, "no-site")]:
        with pytest.raises(Skip) as e:
            normalise(hit(**kw), salts)
        assert e.value.reason == reason


def test_custom_event_bypasses_page_rule():
    ev = normalise(hit(uri="/download.pdf", event_name=" signup "), MemorySaltStore(b"s"))
    assert ev["event_type"] == "custom" and ev["event_name"] == "signup"


@pytest.mark.parametrize(
    "host, site",
    [("Example.COM", "example.com"), ("example.com:8080", "example.com"),
     ("example.com.", "example.com"), ("[2001:db8::1]:443", "[2001:db8::1]")],
)
def test_normalise_site(host, site):
    assert normalise_site(host) == site


@pytest.mark.parametrize(
    "referer, site, want",
    [
        ("https://www.Google.com/search?q=x", "example.com", "google.com"),
        ("https://news.ycombinator.com/", "example.com", "news.ycombinator.com"),
        ("https://example.com/other", "example.com", None),  # self-referral
        ("https://www.example.com/other", "example.com", None),  # self via www
        ("https://example.com/", "www.example.com", None),
        ("-", "example.com", None),
        ("", "example.com", None),
        (None, "example.com", None),
        ("not a url", "example.com", None),
        ("http://[::1", "example.com", None),  # unparsable, never raises
    ],
)
def test_referrer_host(referer, site, want):
    assert referrer_host(referer, site) == want


def test_utm_first_wins_and_keys_case_insensitive():
    got = utm("UTM_Source=NewsLetter&utm_source=other&utm_medium=email&utm_campaign=Black%20Friday"
              "&utm_term=&utm_content=hero")
    assert got == {"utm_source": "NewsLetter", "utm_medium": "email",
                   "utm_campaign": "Black Friday", "utm_term": None, "utm_content": "hero"}
    assert utm("") == dict.fromkeys(got)
    assert utm("UTM_SOURCE=Mail")["utm_source"] == "Mail"


def test_geo_from_cloudfront_headers():
    got = geo({"cloudfront-viewer-country": "de", "cloudfront-viewer-country-region": "BE",
               "cloudfront-viewer-city": "Berlin", "cloudfront-viewer-time-zone": "Europe/Berlin"})
    assert got == {"country": "DE", "region": "BE", "city": "Berlin", "timezone": "Europe/Berlin"}
    assert geo({"cloudfront-viewer-country": "XXX"})["country"] is None
    assert geo({"cloudfront-viewer-city": "S%C3%A3o%20Paulo"})["city"] == "São Paulo"


def test_visitor_id_is_hmac_of_site_ip_ua():
    salt = bytes(range(16))
    want = hmac.new(salt, b"example.com\x00192.0.2.10\x00" + CHROME.encode(),
                    hashlib.sha256).hexdigest()[:16]
    assert visitor_id(salt, "example.com", "192.0.2.10", CHROME) == want
    assert len(want) == 16


def test_visitor_id_changes_with_the_day_salt():
    salts = MemorySaltStore()
    a = normalise(hit(), salts)["visitor_id"]
    b = normalise(hit(time=T + dt.timedelta(hours=1)), salts)["visitor_id"]
    c = normalise(hit(time=T + dt.timedelta(days=1)), salts)["visitor_id"]
    assert a == b and a != c


def test_format_time_milliseconds_utc():
    assert format_time(T) == "2026-11-20T13:05:09.123Z"
    cet = dt.timezone(dt.timedelta(hours=1))
    assert format_time(dt.datetime(2026, 1, 1, 0, 30, tzinfo=cet)) == "2025-12-31T23:30:00.000Z"


def test_event_is_valid_and_has_no_ip_or_ua():
    ev = normalise(hit(uri="/a//index.html", query="utm_source=X", referer="https://t.co/abc",
                       headers={"cloudfront-viewer-country": "fr"}), MemorySaltStore(b"s"))
    assert validate(ev) == []
    assert ev["path"] == "/a/" and ev["referrer_host"] == "t.co" and ev["country"] == "FR"
    assert ev["device_type"] == "desktop" and ev["browser"] == "Chrome" and not ev["is_bot"]
    line = encode(ev)
    assert b"192.0.2.10" not in line and b"Mozilla" not in line and b"Windows NT" not in line


@pytest.mark.parametrize(
    "ua, device, bot",
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/120.0.0.0 Safari/537.36", "bot", True),
        ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "bot", True),
        ("curl/8.5.0", "bot", True),
        ("", "bot", True),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "mobile", False),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.0 Mobile/15E148 Safari/604.1", "tablet", False),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36", "tablet", False),
        (CHROME, "desktop", False),
    ],
)
def test_device_and_bots(ua, device, bot):
    ev = normalise(hit(user_agent=ua), MemorySaltStore(b"s"))
    assert (ev["device_type"], ev["is_bot"]) == (device, bot)


def test_cloudfront_device_headers_win_for_people_not_bots():
    salts = MemorySaltStore(b"s")
    ev = normalise(hit(headers={"cloudfront-is-mobile-viewer": "true"}), salts)
    assert ev["device_type"] == "mobile"
    ev = normalise(hit(user_agent="curl/8", headers={"cloudfront-is-mobile-viewer": "true"}), salts)
    assert ev["device_type"] == "bot"


def test_page_hit_from_url():
    assert page_hit_from_url("https://Example.com:443/a/?utm_source=x#f") == (
        "Example.com:443", "/a/", "utm_source=x")
    assert page_hit_from_url("https://user:pw@example.com") == ("example.com", "/", "")
    for bad in ("javascript:alert(1)", "/relative", "", "https://"):
        with pytest.raises(Skip):
            page_hit_from_url(bad)


def test_naive_time_is_skipped():
    with pytest.raises(Skip):
        normalise(hit(time=dt.datetime(2026, 1, 1)), MemorySaltStore(b"s"))
