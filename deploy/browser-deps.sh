#!/usr/bin/env bash
# The console's browser tests drive Debian's Chromium through ChromeDriver's
# protocol (chromedp speaks it directly; no browser download, which this
# network blocks). Installs the packages when absent.
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
echo "installing the browser for the console tests: chromium" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
