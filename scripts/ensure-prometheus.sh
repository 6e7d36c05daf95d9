#!/usr/bin/env bash
# Makes a real Prometheus server binary available for the readiness-gate tests (test/gates/) and
# prints, as its last line on stdout, the path of the `prometheus` binary:
#
#   /usr/bin/prometheus
#
# - uses `prometheus` and `promtool` from PATH when both are there (idempotent: nothing is
#   installed twice);
# - otherwise installs Debian's `prometheus` package (apt-get, as root or through sudo), without
#   its recommended exporters, and without starting the packaged service: the tests start their
#   own private server on a free port, and a system-wide one on :9090 would be a process nobody
#   stops. Where no policy-rc.d exists, a temporary one that refuses service starts is put in
#   place for the install and removed afterwards.
#
# Usage: scripts/ensure-prometheus.sh
# In CI:  export KEYSTORE_MAINT_TEST_PROMETHEUS="$(bash scripts/ensure-prometheus.sh | tail -n 1)"
set -euo pipefail

log() { echo "ensure-prometheus: $*" >&2; }

found() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

if ! found; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "prometheus or promtool is missing and apt-get is not available; install Prometheus (both binaries) on PATH, or set KEYSTORE_MAINT_TEST_PROMETHEUS to the prometheus binary"
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      log "installing Prometheus needs root (or sudo): apt-get install prometheus"
      exit 1
    fi
    sudo=(sudo)
  fi
  policy=/usr/sbin/policy-rc.d
  temporary_policy=""
  if [ ! -e "$policy" ]; then
    temporary_policy=$policy
    # 101: "action not allowed"; invoke-rc.d then leaves the packaged service stopped.
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    trap '"${sudo[@]}" rm -f "$temporary_policy"' EXIT
  fi
  log "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >&2
  if ! found; then
    log "the prometheus package was installed but prometheus or promtool is not on PATH"
    exit 1
  fi
fi

log "$(prometheus --version 2>&1 | head -n 1)"
command -v prometheus
