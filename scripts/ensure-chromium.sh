#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (`npm run test:ui`), installing
# it quietly and non-interactively when it is missing, and prints its version.
#
# The browser comes from the distribution's package (never a browser download of playwright's
# own): playwright-core drives it through CHROMIUM_PATH, default /usr/bin/chromium.
set -euo pipefail

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    echo "ensure-chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $chromium is missing and apt-get is not available; install Chromium" \
      "and set CHROMIUM_PATH to its executable" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "ensure-chromium: installing Chromium needs root (or sudo): apt-get install chromium" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "ensure-chromium: installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi

# Chromium prints its version without starting a browser; keep its stderr chatter out.
"$chromium" --version 2>/dev/null
