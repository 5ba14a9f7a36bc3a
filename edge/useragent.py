"""User-Agent -> device, browser, OS and bot flag, using ua-parser and crawlerdetect.

Results are cached per distinct UA string in memory only (the raw string is never
written anywhere); real traffic repeats a few thousand UAs, so the cache turns a
~40-500 us parse into a dict lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ua_parser
from crawlerdetect import CrawlerDetect

# Clients that crawlerdetect and ua-parser's Spider family let through but that are
# not people: headless browsers and uptime/performance monitors.
HEADLESS_AND_MONITORING_MARKERS = (
    "headlesschrome",
    "phantomjs",
    "electron/",
    "lighthouse",
    "chrome-lighthouse",
    "pagespeed",
    "gtmetrix",
    "pingdom",
    "uptimerobot",
    "statuscake",
    "site24x7",
    "datadog",
    "newrelicpinger",
    "amazon-route53-health-check",
    "cloudfront-health",
    "elb-healthchecker",
    "playwright",
    "puppeteer",
    "selenium",
    "webdriver",
)

_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "ChromeOS",
               "FreeBSD", "OpenBSD", "NetBSD", "Debian", "macOS"}


class UAInfo(NamedTuple):
    device_type: str
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    is_bot: bool


_parser = ua_parser.parser  # BestAvailableResolver: ua-parser-rs when installed
_crawlers = CrawlerDetect()


def _is_marked(ua_lower: str) -> bool:
    return any(m in ua_lower for m in HEADLESS_AND_MONITORING_MARKERS)


def _device_type(ua: str, os_family: str | None, device_family: str | None) -> str:
    lower = ua.lower()
    if device_family == "iPad" or "ipad" in lower or "tablet" in lower:
        return "tablet"
    if os_family == "Android":
        return "mobile" if "mobile" in lower else "tablet"
    if os_family in ("iOS", "Windows Phone", "BlackBerry OS", "KaiOS") or "mobile" in lower:
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


def _clean(v: str | None) -> str | None:
    return v if v and v != "Other" else None


@lru_cache(maxsize=65536)
def parse_user_agent(ua: str) -> UAInfo:
    """Classify one User-Agent string (cached)."""
    if not ua or not ua.strip():
        # No UA at all is a script or a monitor, never a person's browser.
        return UAInfo("bot", None, None, None, None, True)
    r = _parser.parse(ua)
    browser = _clean(r.user_agent.family) if r.user_agent else None
    browser_version = r.user_agent.major if r.user_agent and browser else None
    os_family = _clean(r.os.family) if r.os else None
    os_version = r.os.major if r.os and os_family else None
    device_family = r.device.family if r.device else None
    is_bot = (
        device_family == "Spider"
        or _is_marked(ua.lower())
        or _crawlers.is_crawler(ua)
    )
    device_type = "bot" if is_bot else _device_type(ua, os_family, device_family)
    return UAInfo(device_type, browser, browser_version, os_family, os_version, is_bot)


def device_from_cloudfront(headers: dict[str, str]) -> str | None:
    """CloudFront-Is-*-Viewer headers, when the distribution forwards them."""
    if headers.get("cloudfront-is-tablet-viewer") == "true":
        return "tablet"
    if headers.get("cloudfront-is-mobile-viewer") == "true":
        return "mobile"
    if headers.get("cloudfront-is-smarttv-viewer") == "true":
        return "other"
    if headers.get("cloudfront-is-desktop-viewer") == "true":
        return "desktop"
    return None
