"""`edgestats import-logs`: CloudFront standard logs (legacy and v2) into the landing zone.

The fixtures under fixtures/ are real-format CloudFront lines (the AWS docs' examples,
with addresses and User-Agents of our own): legacy.log has the 33 legacy fields,
v2_reordered.log a v2 field selection in another order.  Every expected event below
is worked out by hand from those lines.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import string
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from edge.config import ConfigError, Settings
from edge.logformat import LEGACY_FIELDS, W3CLayout
from edge.logimport import import_logs
from edge.normalize import visitor_id
from edge.salts import MemorySaltStore
from edge.schema import COLUMNS, validate
from orchestration.cli import main

FIXTURES = Path(__file__).with_name("fixtures")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")
SUMMARY = ("imported 2 files, 15 lines: 5 page views, 1 custom events, 1 bots; "
           "skipped 8 (asset=2, status=1, not-get=1, malformed=4)")
D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


@pytest.fixture
def log_dir(tmp_path) -> Path:
    """Both fixtures, named against their content: detection must be by magic bytes."""
    d = tmp_path / "logs" / "nested"
    d.mkdir(parents=True)
    shutil.copy(FIXTURES / "legacy.log", d / "legacy-plain.gz")  # plain text, .gz name
    (d.parent / "v2-compressed.log").write_bytes(
        gzip.compress((FIXTURES / "v2_reordered.log").read_bytes()))
    return d.parent


def landing_events(settings: Settings) -> dict[str, list[dict]]:
    """Every event on disk, by landing folder."""
    out: dict[str, list[dict]] = {}
    for f in sorted((settings.landing / "events").rglob("*.gz")):
        for line in gzip.decompress(f.read_bytes()).splitlines():
            out.setdefault(f.parent.name, []).append(json.loads(line))
    return out


def event(**kw) -> dict:
    base = dict.fromkeys(COLUMNS)
    base.update(schema_version=1, event_type="pageview", site="www.example.com",
                device_type="desktop", is_bot=False, ingest="log-import")
    base.update(kw)
    return base


def expected(salts: MemorySaltStore) -> dict[str, list[dict]]:
    def vid(day, site, ip, ua):
        return visitor_id(salts.salt_for(day), site, ip, ua)

    chrome = dict(browser="Chrome", browser_version="131", os="Windows", os_version="10")
    legacy_visitor = vid(D1, "www.example.com", "198.51.100.7", CHROME)
    return {
        "dt=2026-03-01": sorted([
            # index.html dropped, utm from the query (spring%2520sale -> "spring sale")
            event(event_id="SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
                  event_time="2026-03-01T09:15:02.000Z", path="/",
                  referrer_host="google.com", utm_source="Newsletter", utm_medium="email",
                  utm_campaign="spring sale", visitor_id=legacy_visitor, **chrome),
            # caf%25C3%25A9 is CloudFront's encoding of caf%C3%A9; // and index.htm folded
            event(event_id="k6WGMNkEzR5BEM_SaF47gjtX9zBDO2m349OY2an0QPEaUum1ZOLrow==",
                  event_time="2026-03-01T09:16:40.000Z", path="/blog/café/",
                  visitor_id=legacy_visitor, **chrome),
            event(event_id="kBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==",
                  event_time="2026-03-01T11:00:00.000Z", path="/about", device_type="bot",
                  browser="Googlebot", browser_version="2", is_bot=True,
                  visitor_id=vid(D1, "www.example.com", "192.0.2.66", GOOGLEBOT)),
            # the tracking pixel: page, utm and event name from its query
            event(event_id="Pix3lReq0001xyzPix3lReq0001xyzPix3lReq0001xyz00Aa==",
                  event_time="2026-03-01T12:30:00.000Z", event_type="custom",
                  event_name="signup", path="/pricing", utm_source="ads",
                  visitor_id=legacy_visitor, **chrome),
            # v2: timestamp(ms) keeps milliseconds, c-country -> country
            event(event_id="V2req0001V2req0001V2req0001V2req0001V2req0001V2r==",
                  event_time="2026-03-01T11:25:02.123Z", path="/pricing",
                  referrer_host="news.ycombinator.com", country="DE", browser="Firefox",
                  browser_version="128", os="Ubuntu",
                  visitor_id=vid(D1, "www.example.com", "203.0.113.9", FIREFOX)),
            event(event_id="V2req0002V2req0002V2req0002V2req0002V2req0002V2r==",
                  event_time="2026-03-01T23:59:59.999Z", path="/docs/", utm_source="Twitter",
                  device_type="mobile", browser="Chrome Mobile", browser_version="131",
                  os="Android", os_version="14",
                  visitor_id=vid(D1, "www.example.com", "2001:db8::5", ANDROID)),
        ], key=lambda e: e["event_id"]),
        # behind a proxy: c-ip is hashed, not x-forwarded-for; no x-host-header -> cs(Host)
        "dt=2026-03-02": [
            event(event_id="NxtDayReq0001NxtDayReq0001NxtDayReq0001NxtDayRe==",
                  event_time="2026-03-02T00:00:01.000Z", site="shop.example.com", path="/",
                  device_type="mobile", browser="Mobile Safari", browser_version="17",
                  os="iOS", os_version="17",
                  visitor_id=vid(D2, "shop.example.com", "203.0.113.50", IPHONE)),
        ],
    }


def test_fixtures_land_as_exact_canonical_events(log_dir, settings):
    salts = MemorySaltStore(seed=b"fixture")
    summary = import_logs([log_dir], settings, salts=salts)
    assert summary.line() == SUMMARY
    got = landing_events(settings)
    got = {k: sorted(v, key=lambda e: e["event_id"]) for k, v in got.items()}
    assert got == expected(salts)
    for events in got.values():
        assert all(validate(e) == [] for e in events)


def test_objects_are_named_like_firehose_output(log_dir, settings):
    import_logs([log_dir], settings, salts=MemorySaltStore(seed=b"x"))
    names = sorted(p.relative_to(settings.landing).as_posix()
                   for p in (settings.landing / "events").rglob("*.gz"))
    # one object per file and event day, timestamped by its first event
    assert [n.rsplit("-", 5)[0] for n in names] == [
        "events/dt=2026-03-01/edgestats-1-2026-03-01-09-15-02",
        "events/dt=2026-03-01/edgestats-1-2026-03-01-11-25-02",
        "events/dt=2026-03-02/edgestats-1-2026-03-02-00-00-01",
    ]
    assert not list(settings.landing.rglob(".*.tmp"))


def test_cli_prints_one_summary_line(log_dir, edgestats_home, capsys):
    assert main(["import-logs", "--no-progress", str(log_dir)]) == 0
    out, err = capsys.readouterr()
    assert out == SUMMARY + "\n"
    assert err == ""


def test_reimport_overwrites_instead_of_adding(log_dir, settings, capsys):
    assert main(["import-logs", "--no-progress", str(log_dir)]) == 0
    first = sorted(p.name for p in settings.landing.rglob("*.gz"))
    capsys.readouterr()
    assert main(["import-logs", "--no-progress", str(log_dir / "nested"), str(log_dir)]) == 0
    assert capsys.readouterr().out == SUMMARY + "\n"  # a file named twice is read once
    again = sorted(p.name for p in settings.landing.rglob("*.gz"))
    assert again == first
    ids = [e["event_id"] for es in landing_events(settings).values() for e in es]
    assert len(ids) == len(set(ids)) == 7


def test_missing_path_is_one_line_and_exit_2(log_dir, edgestats_home, capsys):
    assert main(["import-logs", str(log_dir), str(log_dir / "nope.log")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "nope.log" in err and "not a file or directory" in err
    assert not (edgestats_home / "landing").exists()  # nothing imported before the check


def test_missing_path_raises_config_error(settings, tmp_path):
    with pytest.raises(ConfigError):
        import_logs([tmp_path / "absent"], settings)


def legacy_line(**values: str) -> str:
    row = {f: "-" for f in LEGACY_FIELDS}
    row.update(values)
    return "\t".join(row[f] for f in LEGACY_FIELDS)


AWS_DOC_LINE = legacy_line(**{
    "date": "2019-12-04", "time": "21:02:31", "x-edge-location": "LAX1", "sc-bytes": "392",
    "c-ip": "192.0.2.100", "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net",
    "cs-uri-stem": "/index.html", "sc-status": "200",
    "cs(User-Agent)": quote(CHROME, safe="/;(),:"), "x-edge-result-type": "Hit",
    "x-edge-request-id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
    "x-host-header": "d111111abcdef8.cloudfront.net", "cs-protocol": "https",
})


def test_field_order_comes_from_each_files_header(tmp_path, settings):
    """The same request in two field orders gives the same event."""
    cols = AWS_DOC_LINE.split("\t")
    order = list(reversed(range(len(LEGACY_FIELDS))))
    reordered = "\t".join(cols[i] for i in order)
    header = "#Fields: " + " ".join(LEGACY_FIELDS[i] for i in order)
    (tmp_path / "a.log").write_text(
        f"#Version: 1.0\n#Fields: {' '.join(LEGACY_FIELDS)}\n{AWS_DOC_LINE}\n")
    (tmp_path / "b.log").write_text(f"#Version: 1.0\n{header}\n{reordered}\n")
    salts = MemorySaltStore(seed=b"order")
    s1 = import_logs([tmp_path / "a.log"], settings, salts=salts)
    a = landing_events(settings)
    shutil.rmtree(settings.landing)
    s2 = import_logs([tmp_path / "b.log"], settings, salts=salts)
    assert s1.line() == s2.line() == (
        "imported 1 files, 1 lines: 1 page views, 0 custom events, 0 bots; "
        "skipped 0 (asset=0, status=0, not-get=0, malformed=0)")
    assert landing_events(settings) == a
    [[e]] = a.values()
    assert (e["site"], e["path"], e["event_time"]) == (
        "d111111abcdef8.cloudfront.net", "/", "2019-12-04T21:02:31.000Z")


def test_header_without_needed_fields_counts_lines_as_malformed(tmp_path, settings, capsys):
    (tmp_path / "x.log").write_text("#Version: 1.0\n#Fields: date time c-ip\n"
                                    "2026-03-01\t10:00:00\t192.0.2.1\n")
    s = import_logs([tmp_path], settings)
    assert s.lines == 1 and s.skipped == {"malformed": 1}
    err = capsys.readouterr().err
    assert "#Fields lacks cs-uri-stem, x-host-header or cs(Host)" in err
    assert "192.0.2.1" not in err


def test_truncated_gzip_warns_and_goes_on(tmp_path, settings, capsys):
    body = gzip.compress((f"#Version: 1.0\n#Fields: {' '.join(LEGACY_FIELDS)}\n"
                          + (AWS_DOC_LINE + "\n") * 2000).encode())
    (tmp_path / "a-broken.gz").write_bytes(body[: len(body) // 2])
    (tmp_path / "b-good.log").write_text(
        f"#Fields: {' '.join(LEGACY_FIELDS)}\n{AWS_DOC_LINE}\n")
    s = import_logs([tmp_path], settings)
    assert s.files == 2
    assert s.skipped["malformed"] == 1
    assert s.pageviews == s.lines - 1 >= 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a-broken.gz" in err


# ------------------------------------------------------------------ fuzz

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_field_value = st.one_of(_text, st.sampled_from(["-", "", "200", "GET", "/", "%", "%zz", "\t"]))


@st.composite
def fuzz_file(draw) -> tuple[bytes, list[str], list[str]]:
    """A log file of good lines (with known IPs and UAs) mixed with junk of every kind."""
    fields = draw(st.permutations(LEGACY_FIELDS + ("c-country", "timestamp(ms)")))
    out = [b"#Version: 1.0", ("#Fields: " + " ".join(fields)).encode()]
    ips, uas = [], []
    kinds = ["good", "good", "good", "junk", "random", "bytes", "header"]
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=12)):
        if kind == "good":
            ip = f"198.51.{draw(st.integers(0, 255))}.{draw(st.integers(1, 254))}"
            ua = "Mozilla/5.0 (X11; Linux x86_64) Fuzzer/" + draw(
                st.text(alphabet=string.ascii_letters, min_size=12, max_size=12))
            ips.append(ip)
            uas.append(ua)
            row = {f: "-" for f in fields}
            row.update({
                "date": "2026-03-01", "time": "10:00:00", "c-ip": ip, "cs-method": "GET",
                "cs(User-Agent)": quote(ua, safe="/;()"), "x-host-header": "www.example.com",
                "cs-uri-stem": "/" + draw(st.text(alphabet="abcxyz/", max_size=8)),
                "sc-status": draw(st.sampled_from(["200", "304", "404"])),
                "x-edge-request-id": draw(st.text(alphabet=string.ascii_letters, min_size=8,
                                                  max_size=8)),
                "timestamp(ms)": draw(st.sampled_from(["-", "1772364302123"])),
            })
            out.append("\t".join(row[f] for f in fields).encode())
        elif kind == "junk":
            out.append(draw(st.binary(max_size=80)).replace(b"\n", b""))
        elif kind == "random":
            vals = draw(st.lists(_field_value, min_size=len(fields), max_size=len(fields)))
            out.append("\t".join(v.replace("\n", "") for v in vals).encode("utf-8", "replace"))
        elif kind == "bytes":
            out.append(b"\xff\xfe" + draw(st.binary(max_size=40)).replace(b"\n", b""))
        else:  # a new header: the lines after it follow its order
            fields = draw(st.permutations(fields))
            out.append(("#Fields: " + " ".join(fields)).encode())
    return b"\n".join(out) + b"\n", ips, uas


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz_file(), st.booleans())
def test_fuzz_never_raises_counts_every_line_and_never_writes_ip_or_ua(case, compress):
    data, ips, uas = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in.log").write_bytes(gzip.compress(data) if compress else data)
        settings = Settings(home=root / "home")
        s = import_logs([root / "in.log"], settings, salts=MemorySaltStore(seed=b"f"))
        assert s.pageviews + s.custom + s.bots + sum(s.skipped.values()) == s.lines
        landed = b"".join(gzip.decompress(p.read_bytes())
                          for p in (settings.landing / "events").rglob("*.gz"))
        assert landed.count(b"\n") == s.pageviews + s.custom + s.bots
        for line in landed.splitlines():
            assert validate(json.loads(line)) == []
        for secret in ips + uas + [quote(u, safe="/;()") for u in uas]:
            assert secret.encode() not in landed


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_field_value, max_size=40), st.permutations(LEGACY_FIELDS))
def test_line_parser_raises_only_its_own_errors(values, fields):
    from edge.logformat import Malformed
    from edge.normalize import Skip

    layout = W3CLayout(fields)
    try:
        layout.hit("\t".join(values), "fallback", "log-import", "/_e/p.gif")
    except (Malformed, Skip):
        pass


def test_worker_processes_write_exactly_what_one_process_writes(log_dir, tmp_path):
    def landing_bytes(settings):
        return {p.relative_to(settings.landing).as_posix(): gzip.decompress(p.read_bytes())
                for p in settings.landing.rglob("*.gz")}

    one, two = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "two")
    s1 = import_logs([log_dir], one, salts=MemorySaltStore(seed=b"w"), workers=1)
    s2 = import_logs([log_dir], two, salts=MemorySaltStore(seed=b"w"), workers=2)
    assert s1.line() == s2.line() == SUMMARY
    assert landing_bytes(one) == landing_bytes(two) != {}


def test_worker_count_weighs_gzip_files_by_their_log_text(tmp_path):
    """Log text gzips 10-30x; the 16 MiB threshold is about text, not gzip bytes."""
    import os

    from edge.logimport import PARALLEL_MIN_BYTES, _text_size, _worker_count

    line = "2026-03-01\t12:00:{:02d}\tFRA56\t512\t192.0.2.{}\tGET\t/p/{}.css\t200\n"
    text = "".join(line.format(i % 60, i % 250, i % 997) for i in range(180_000)).encode()
    assert len(text) > PARALLEL_MIN_BYTES // 2
    files = []
    for k in range(2):
        f = tmp_path / f"E1.{k}.gz"
        f.write_bytes(gzip.compress(text))
        files.append(f)
    assert sum(f.stat().st_size for f in files) < PARALLEL_MIN_BYTES // 4
    assert _text_size(files[0]) == len(text)
    assert _worker_count(files) == min(2, os.cpu_count() or 1)
    plain = tmp_path / "small.log"
    plain.write_bytes(b"#Version: 1.0\n")
    assert _text_size(plain) == 14 and _worker_count([plain, plain]) == 1
