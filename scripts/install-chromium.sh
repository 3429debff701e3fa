#!/usr/bin/env bash
# Headless Chromium for the HTML artifact browser test (tests/test_html_artifacts.py), from Debian's archive.
# Idempotent: does nothing when `chromium` is already on PATH. Needs root (or sudo) and the Debian mirrors.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-chromium: not root and no sudo; install Debian's chromium package" >&2; exit 1; }
  SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: apt-get finished but chromium is not on PATH" >&2; exit 1; }
echo "install-chromium: $(chromium --version 2>/dev/null || echo chromium installed)"
