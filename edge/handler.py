"""Lambda@Edge handler: page capture, the tracking pixel and the beacon (DESIGN section 9).

CloudFront calls `handler(event, context)` on viewer-request (default) or
origin-request.  Three things can happen:

* `GET <pixel_path>?u=<page url>&r=<referrer>[&n=<event name>]` -> a generated 200
  response with the 43-byte transparent GIF (ingest `pixel`);
* `POST <beacon_path>` with JSON `{"u", "r", "n"}` (the trigger's include-body option
  hands us the body) -> a generated 204 (ingest `beacon`); `OPTIONS` answers the
  CORS preflight;
* anything else is a page request: an event is recorded (ingest `edge`) when the
  request is a page view, and the request goes on to the cache/origin unchanged.

Fail-open everywhere: whatever breaks in analytics is logged as one line (exception
type and a fixed description, never the IP, User-Agent or URL) and the viewer still
gets the page, the GIF or the 204.  Lambda@Edge has no environment variables, so the
configuration comes from the baked `EdgeConfig`; `configure()` lets the local
collector and the tests inject the sink, salt store, clock and config.

On origin-request the `host` header is the origin's: the stack's viewer-request
CloudFront Function copies the viewer's Host to `x-forwarded-host`, which `site_host`
reads first (then a forwarded viewer Host, then the distribution's domain name).
User-Agent, Referer and CloudFront-Viewer-* arrive only if the policy forwards them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import socket
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qsl

from edge.config import EdgeConfig
from edge.normalize import Hit, Skip, normalise, normalise_site, page_hit_from_url
from edge.salts import SaltStore
from edge.schema import encode

log = logging.getLogger("edgestats.edge")

# GIF89a 1x1, two-colour table, a Graphic Control Extension marking colour 0
# transparent, one image block, trailer: the classic 43-byte transparent pixel.
GIF_BASE64 = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
GIF_BYTES = base64.b64decode(GIF_BASE64)
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"
EPOCH_HTTP_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"
PREFLIGHT_MAX_AGE = "86400"
MAX_BEACON_BYTES = 16 * 1024  # a beacon is a few hundred bytes; more is not ours


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_sink = None  # anything with put(bytes); built lazily from EdgeConfig on Lambda
_salts: SaltStore | None = None
_config: EdgeConfig | None = None
_clock: Callable[[], dt.datetime] = _utc_now

# What happened to requests, by outcome, for the collector and the benchmarks.
stats: Counter[str] = Counter()

_UNSET = object()


def configure(*, sink=_UNSET, salts=_UNSET, config=_UNSET, clock=_UNSET) -> None:
    """Inject the sink, salt store, config or clock; `None` restores the lazy default."""
    global _sink, _salts, _config, _clock
    if sink is not _UNSET:
        _sink = sink
    if salts is not _UNSET:
        _salts = salts
    if config is not _UNSET:
        _config = config
    if clock is not _UNSET:
        _clock = clock or _utc_now


def _get_config() -> EdgeConfig:
    global _config
    if _config is None:
        _config = EdgeConfig.load()
    return _config


def _get_salts() -> SaltStore:
    # On Lambda: the daily salts in SSM, shared by every container and region.
    global _salts
    if _salts is None:
        from edge.ssm_salts import SsmSaltStore

        _salts = SsmSaltStore.from_config(_get_config())
    return _salts


def _get_sink():
    global _sink
    if _sink is None:
        from edge.firehose import AwsFirehoseSink

        cfg = _get_config()
        _sink = AwsFirehoseSink(cfg.firehose_stream, cfg.firehose_region, timeout=0.5)
    return _sink


def _fail_open(what: str, exc: BaseException) -> None:
    """One log line with the exception type only: messages can quote URLs or bodies."""
    stats["failed"] += 1
    log.warning("edgestats failed open while %s: %s", what, type(exc).__name__)


# ------------------------------------------------------------------ reading the request


def first_values(headers) -> dict[str, str]:
    """CloudFront's `{name: [{key, value}, ...]}` -> `{lower-case name: first value}`."""
    out: dict[str, str] = {}
    if not isinstance(headers, dict):
        return out
    for name, entries in headers.items():
        try:  # the well-formed case without isinstance checks: this runs per request
            value = entries[0]["value"]
            name = name.lower()
        except (TypeError, KeyError, IndexError, AttributeError):
            continue
        if type(value) is str and name not in out:
            out[name] = value
    return out


def _ip(text: str) -> str | None:
    """`text` as a normalised IP address, or None (inet_pton: ipaddress is 10x slower)."""
    for family in (socket.AF_INET, socket.AF_INET6) if ":" not in text else (socket.AF_INET6,):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, text))
        except (OSError, ValueError):
            continue
    return None


def ip_from_viewer_address(address: str) -> str | None:
    """The IP of `CloudFront-Viewer-Address` (`ip:port`; IPv6 comes without brackets)."""
    a = address.strip()
    if a.startswith("["):  # [v6]:port, should a proxy in front add brackets
        return _ip(a[1:a.find("]")]) if "]" in a else None
    if a.count(":") == 1:  # v4:port
        return _ip(a.split(":", 1)[0])
    if ":" in a:  # v6:port, else a bare v6 address
        return _ip(a.rsplit(":", 1)[0]) or _ip(a)
    return _ip(a)


def viewer_ip(headers: dict[str, str], client_ip) -> str | None:
    """CloudFront-Viewer-Address when present (it survives proxies), else `clientIp`."""
    address = headers.get("cloudfront-viewer-address")
    if address:
        ip = ip_from_viewer_address(address)
        if ip:
            return ip
    return client_ip if isinstance(client_ip, str) else None


def _origin_domain(request: dict) -> str | None:
    origin = request.get("origin")
    if isinstance(origin, dict):
        for kind in ("custom", "s3"):
            o = origin.get(kind)
            if isinstance(o, dict) and isinstance(o.get("domainName"), str):
                return o["domainName"].lower()
    return None


def site_host(cf: dict, request: dict, headers: dict[str, str]) -> str:
    """The host the viewer asked for, also on origin-request where Host may be the origin's."""
    host = headers.get("host", "")
    config = cf.get("config")
    config = config if isinstance(config, dict) else {}
    if config.get("eventType") == "origin-request":
        # set by the stack's viewer-request CloudFront Function, which replaces any value
        # the viewer sent; on viewer-request the header is the viewer's and is ignored
        forwarded = headers.get("x-forwarded-host")
        origin = _origin_domain(request)
        if forwarded:
            host = forwarded
        elif not host or (origin and host.lower() == origin):
            host = config.get("distributionDomainName") or ""
    return host if isinstance(host, str) else ""


def request_id(cf: dict) -> str:
    config = cf.get("config")
    rid = config.get("requestId") if isinstance(config, dict) else None
    return rid if isinstance(rid, str) else ""


def request_body(request: dict) -> bytes | None:
    """The body the include-body option gave us; None when absent or truncated."""
    body = request.get("body")
    if not isinstance(body, dict) or body.get("inputTruncated"):
        return None
    data = body.get("data")
    if not isinstance(data, str):
        return None
    if body.get("encoding", "base64") == "base64":
        return base64.b64decode(data, validate=True)
    return data.encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------ generated responses


def _h(name: str, value: str) -> list[dict[str, str]]:
    return [{"key": name, "value": value}]


def gif_response() -> dict:
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "content-type": _h("Content-Type", "image/gif"),
            "cache-control": _h("Cache-Control", NO_STORE),
            "pragma": _h("Pragma", "no-cache"),
            "expires": _h("Expires", EPOCH_HTTP_DATE),
        },
        "body": GIF_BASE64,
        "bodyEncoding": "base64",
    }


def no_content_response(headers: dict[str, str]) -> dict:
    """204 for the beacon; the echoed Origin lets sendBeacon/fetch from any page through."""
    return {
        "status": "204",
        "statusDescription": "No Content",
        "headers": {
            "access-control-allow-origin": _h("Access-Control-Allow-Origin",
                                              headers.get("origin") or "*"),
            "vary": _h("Vary", "Origin"),
            "cache-control": _h("Cache-Control", NO_STORE),
        },
    }


def preflight_response(headers: dict[str, str]) -> dict:
    resp = no_content_response(headers)
    resp["headers"].update({
        "access-control-allow-methods": _h("Access-Control-Allow-Methods", "POST, OPTIONS"),
        "access-control-allow-headers": _h("Access-Control-Allow-Headers", "content-type"),
        "access-control-max-age": _h("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
    })
    return resp


def method_not_allowed_response(allow: str) -> dict:
    return {
        "status": "405",
        "statusDescription": "Method Not Allowed",
        "headers": {
            "allow": _h("Allow", allow),
            "cache-control": _h("Cache-Control", NO_STORE),
        },
    }


# ------------------------------------------------------------------ recording


def _record(hit: Hit) -> None:
    """Normalise and put one hit; a Skip is a normal outcome, not a failure."""
    try:
        event = normalise(hit, _get_salts())
    except Skip as s:
        stats[f"skipped:{s.reason}"] += 1
        return
    allowed = _get_config().allowed_sites
    if allowed and event["site"] not in {normalise_site(s) for s in allowed}:
        stats["skipped:site-not-allowed"] += 1
        return
    _get_sink().put(encode(event))
    stats[f"sent:{hit.ingest}"] += 1


def _tracker_hit(cf: dict, request: dict, headers: dict[str, str], fields: dict,
                 ingest: str) -> Hit | None:
    """A pixel/beacon hit: the page from `u`, the referrer from `r`, a custom event from `n`."""
    url = fields.get("u")
    if not isinstance(url, str) or not url:
        stats[f"skipped:{ingest}-no-url"] += 1
        return None
    host, path, query = page_hit_from_url(url)
    referrer = fields.get("r")
    name = fields.get("n")
    return Hit(
        time=_clock(),
        event_id=request_id(cf),
        host=host,
        uri=path,
        query=query,
        method="GET",
        referer=referrer if isinstance(referrer, str) else None,
        user_agent=headers.get("user-agent"),
        client_ip=viewer_ip(headers, request.get("clientIp")),
        headers=headers,
        event_name=name if isinstance(name, str) and name else None,
        ingest=ingest,
        declared=True,
    )


def _pixel(cf: dict, request: dict, headers: dict[str, str]) -> None:
    query = request.get("querystring")
    fields: dict[str, str] = {}
    if isinstance(query, str):
        for k, v in parse_qsl(query, keep_blank_values=True, errors="replace"):
            fields.setdefault(k, v)
    hit = _tracker_hit(cf, request, headers, fields, "pixel")
    if hit is not None:
        _record(hit)


def _beacon(cf: dict, request: dict, headers: dict[str, str]) -> None:
    body = request_body(request)
    if body is None or len(body) > MAX_BEACON_BYTES:
        stats["skipped:beacon-no-body"] += 1
        return
    fields = json.loads(body)
    if not isinstance(fields, dict):
        stats["skipped:beacon-not-object"] += 1
        return
    hit = _tracker_hit(cf, request, headers, fields, "beacon")
    if hit is not None:
        _record(hit)


def _page(cf: dict, request: dict, headers: dict[str, str]) -> None:
    uri, query, method = request.get("uri"), request.get("querystring"), request.get("method")
    hit = Hit(
        time=_clock(),
        event_id=request_id(cf),
        host=site_host(cf, request, headers),
        uri=uri if isinstance(uri, str) and uri else "/",
        query=query if isinstance(query, str) else "",
        method=method if isinstance(method, str) else "",
        status=None,  # a viewer-request event cannot know the status
        referer=headers.get("referer"),
        user_agent=headers.get("user-agent"),
        client_ip=viewer_ip(headers, request.get("clientIp")),
        headers=headers,
        ingest="edge",
    )
    _record(hit)


# ------------------------------------------------------------------ entry point


def _safe_config() -> EdgeConfig:
    try:
        return _get_config()
    except Exception as e:  # a broken baked config must not break the site
        _fail_open("loading the baked config", e)
        return EdgeConfig()


def handler(event, context=None):
    """Lambda@Edge entry point: the request unchanged, or a generated response."""
    try:
        cf = event["Records"][0]["cf"]
        request = cf["request"]
    except (KeyError, IndexError, TypeError) as e:
        _fail_open("reading the event envelope", e)
        return {}
    if not isinstance(request, dict) or not isinstance(cf, dict):
        return request

    headers = first_values(request.get("headers"))
    cfg = _safe_config()
    uri = request.get("uri")
    method = request.get("method")
    response = request
    record, what = None, ""
    if uri == cfg.pixel_path:
        response = gif_response()
        if method == "GET":
            record, what = _pixel, "recording a pixel hit"
    elif uri == cfg.beacon_path:
        if method == "OPTIONS":
            response = preflight_response(headers)
        elif method == "POST":
            response = no_content_response(headers)
            record, what = _beacon, "recording a beacon"
        else:
            response = method_not_allowed_response("POST, OPTIONS")
    else:
        record, what = _page, "recording a page view"
    if record is not None:
        try:
            record(cf, request, headers)
        except Exception as e:  # bad input, sink timeout, salt store trouble: fail open
            _fail_open(what, e)
    return response
