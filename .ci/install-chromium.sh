#!/usr/bin/env bash
# Headless Chromium and its WebDriver for tests/orchestration/test_report_browser.py.
# Idempotent: does nothing when chromium is already on PATH.  Debian/Ubuntu, run as root.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
  SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
