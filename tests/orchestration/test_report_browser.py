"""The report in a real headless Chromium, opened from a file:// URL.

Needs the Debian packages `chromium` and `chromium-driver` (CI installs them with
.ci/install-chromium.sh) and selenium.  Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from orchestration.report import (
    build_report,
    format_count,
    format_duration,
    format_percent,
    save_report,
)
from tests.orchestration.test_report import (
    END,
    EVIL_EVENT,
    EVIL_PATH,
    EVIL_SOURCE,
    START,
    make_warehouse,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not installed: run .ci/install-chromium.sh "
    "(apt-get install -y chromium chromium-driver)",
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="edgestats-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("browser"))


def open_page(driver, path: Path, viewport: str, fragment: str = "") -> list[dict]:
    """Load a file at a viewport size; return the console messages it produced."""
    width, height, mobile = VIEWPORTS[viewport]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.get_log("browser")  # drop what earlier pages said
    driver.get(path.resolve().as_uri() + fragment)
    driver.execute_script("return document.readyState")
    return driver.get_log("browser")


def screenshot(driver, name: str) -> Path:
    """Save the viewport to test-artifacts/ and prove it is not blank."""
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        size = image.size
    assert colours is not None
    # text, bars, lines and cards: a blank or single-panel page has a handful of colours
    assert len(colours) > 50, f"{path} looks blank ({len(colours)} colours)"
    largest = max(count for count, _ in colours)
    assert largest < 0.9 * size[0] * size[1], f"{path} is mostly one colour"
    return path


SHOWN_METRICS_JS = """
var out = [];
document.querySelectorAll("section[data-site]").forEach(function (section) {
  section.querySelectorAll("[data-metric]").forEach(function (el) {
    out.push([section.getAttribute("data-site"), !section.hidden && el.offsetParent !== null,
              el.getAttribute("data-metric"), el.getAttribute("data-value"), el.textContent.trim()]);
  });
});
return out;
"""


def shown_metrics(driver) -> dict[str, dict[str, tuple[str, str]]]:
    """{site: {metric: (raw value, text)}} for the sections visible on screen."""
    shown: dict[str, dict[str, tuple[str, str]]] = {}
    for site, visible, metric, value, text in driver.execute_script(SHOWN_METRICS_JS):
        if visible:
            shown.setdefault(site, {})[metric] = (value, text)
    return shown


def expected_from_tables(warehouse: Path, site: str, first: dt.date, last: dt.date) -> dict:
    """The top line straight from the site_daily and bot_daily Parquet files, with pandas."""

    def read(table: str) -> pd.DataFrame:
        frames = []
        for folder in sorted((warehouse / table).glob("dt=????-??-??")):
            if first <= dt.date.fromisoformat(folder.name[3:]) <= last:
                frames += [pd.read_parquet(f) for f in folder.glob("*.parquet")]
        return pd.concat(frames) if frames else pd.DataFrame(columns=["site"])

    daily = read("site_daily")
    daily = daily[daily["site"] == site]
    bots = read("bot_daily")
    sessions = int(daily["sessions"].sum())
    pageviews = int(daily["pageviews"].sum())
    hits = int(bots[bots["site"] == site]["hits"].sum()) if len(bots) else 0
    return {
        "visitors": int(daily["visitors"].sum()),
        "pageviews": pageviews,
        "sessions": sessions,
        "bounce_rate": daily["bounces"].sum() / sessions,
        "visit_duration": (daily["avg_visit_duration_s"] * daily["sessions"]).sum() / sessions,
        "views_per_session": pageviews / sessions,
        "bot_share": hits / (hits + pageviews),
    }


def test_console_check_catches_errors(browser, tmp_path):
    """The console check below is only worth something if it can fail."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><title>x</title><script>console.error('boom'); nope();</script>"
    )
    messages = open_page(browser, page, "desktop")
    assert [m["level"] for m in messages] == ["SEVERE", "SEVERE"]
    assert "nope is not defined" in messages[1]["message"]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_report_renders_with_the_table_numbers(browser, warehouse, tmp_path, viewport):
    report = save_report(build_report(warehouse, START, END), tmp_path / "report.html")
    assert open_page(browser, report, viewport) == []  # no console errors, warnings or logs
    width = VIEWPORTS[viewport][0]
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    chart = ".chart-wide svg" if viewport == "desktop" else ".chart-narrow svg"
    box = browser.execute_script(
        f"var r = document.querySelector('section:not([hidden]) {chart}').getBoundingClientRect();"
        "return [r.width, r.height];"
    )
    assert box[0] > 0.6 * min(width, 1200) and box[1] > 150, box
    screenshot(browser, f"report-{viewport}")

    shown = shown_metrics(browser)
    assert list(shown) == ["a.example"]  # the busiest site; the other is behind the selector
    expected = expected_from_tables(warehouse, "a.example", START, END)
    a = shown["a.example"]
    for metric in ("visitors", "pageviews", "sessions"):
        assert a[metric] == (str(expected[metric]), format_count(expected[metric]))
    for metric in ("bounce_rate", "visit_duration", "views_per_session", "bot_share"):
        assert float(a[metric][0]) == pytest.approx(expected[metric])
    assert (a["bounce_rate"][1], a["visit_duration"][1], a["bot_share"][1]) == (
        format_percent(expected["bounce_rate"]),
        format_duration(expected["visit_duration"]),
        format_percent(expected["bot_share"]),
    )


def test_site_selector_switches_sections(browser, warehouse, tmp_path):
    from selenium.webdriver.support.ui import Select

    report = save_report(build_report(warehouse, START, END), tmp_path / "report.html")
    assert open_page(browser, report, "desktop") == []
    Select(browser.find_element("id", "site-select")).select_by_value("b.example")
    shown = shown_metrics(browser)
    assert list(shown) == ["b.example"]
    expected = expected_from_tables(warehouse, "b.example", START, END)
    assert shown["b.example"]["pageviews"][0] == str(expected["pageviews"]) == "10"
    assert browser.execute_script("return location.hash") == "#site=b.example"
    # a shared link opens on the site it names
    assert open_page(browser, report, "phone", "#site=b.example") == []
    assert list(shown_metrics(browser)) == ["b.example"]
    screenshot(browser, "report-phone-second-site")


def test_strings_from_data_stay_text(browser, warehouse, tmp_path):
    report = save_report(build_report(warehouse, START, END), tmp_path / "report.html")
    assert open_page(browser, report, "desktop", "#site=b.example") == []
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('section:not([hidden]) tr[data-key] .k'))"
        ".map(function (e) { return e.textContent; });"
    )
    assert {EVIL_PATH, EVIL_SOURCE, EVIL_EVENT} <= set(texts)
    assert browser.execute_script("return document.scripts.length") == 1
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0


def test_empty_range_and_single_day_render(browser, warehouse, tmp_path):
    empty = save_report(
        build_report(warehouse, dt.date(2030, 1, 1), dt.date(2030, 1, 7)), tmp_path / "empty.html"
    )
    assert open_page(browser, empty, "phone") == []
    assert (
        browser.execute_script("return document.querySelector('[data-empty=report]').textContent")
        .strip()
        .startswith("No traffic recorded from 2030-01-01 to 2030-01-07.")
    )

    day = save_report(build_report(warehouse, START, START), tmp_path / "day.html")
    for viewport in VIEWPORTS:
        assert open_page(browser, day, viewport) == []
        screenshot(browser, f"report-single-day-{viewport}")
    points = browser.execute_script(
        "return Array.from(document.querySelectorAll('section:not([hidden]) tr[data-point]'))"
        ".map(function (r) { return [r.dataset.point, r.querySelector('[data-col=pageviews]').dataset.value]; });"
    )
    assert len(points) == 24
    assert (points[9], points[14]) == (["09:00", "60"], ["14:00", "40"])
    assert shown_metrics(browser)["a.example"]["pageviews"] == ("100", "100")
