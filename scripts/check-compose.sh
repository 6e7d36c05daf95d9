#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: `config -q` parses the file, checks it
# against the Compose schema and resolves every ${VARIABLE} — with the settings of .env.example
# (so the documented example stays in step with the file), with and without the `sim` profile.
#
# Uses `docker compose` (v2) when it is there, else `docker-compose`; installs Debian's
# docker-compose package when neither is (apt-get, as root; CI runs as root).
#
# Usage: bash scripts/check-compose.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "check-compose: $*" >&2; }

compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "neither 'docker compose' nor 'docker-compose' found, and cannot install it (needs apt-get as root)"
    exit 1
  fi
  log "installing Debian's docker-compose package (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Other set-up scripts may be installing packages at the same time: wait for dpkg's lock.
  apt_wait=(-o DPkg::Lock::Timeout=300)
  apt-get "${apt_wait[@]}" update -qq >&2
  apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends docker-compose >/dev/null
  compose=(docker-compose)
fi
log "using: ${compose[*]} ($("${compose[@]}" version --short 2>/dev/null || echo 'version unknown'))"

env_file=$(mktemp "${TMPDIR:-/tmp}/keystore-maint-compose-env.XXXXXX")
trap 'rm -f "$env_file"' EXIT
cp .env.example "$env_file"

# Compose would also read a developer's own .env; --env-file makes the check see only the example.
check() {
  local label=$1
  shift
  if ! output=$("${compose[@]}" --env-file "$env_file" -f docker-compose.yml "$@" config -q 2>&1); then
    log "FAILED ($label):"
    echo "$output" >&2
    exit 1
  fi
  # Unset variables only warn; in this file every one must come from .env.example or a default.
  if grep -qi 'variable is not set' <<<"$output"; then
    log "FAILED ($label): a variable is neither in .env.example nor defaulted:"
    echo "$output" >&2
    exit 1
  fi
  log "ok ($label)"
}

check "default services"
check "with --profile sim" --profile sim

# The rehearsal depends on these; a refactor that drops one should fail here, not at `up`.
services=$("${compose[@]}" --env-file "$env_file" -f docker-compose.yml --profile sim config --services)
for service in postgresql temporal temporal-search-attributes temporal-ui worker kms-sim; do
  if ! grep -qx "$service" <<<"$services"; then
    log "FAILED: service '$service' is missing"
    exit 1
  fi
done
# The simulator must stay opt-in: a worker pointed at real KMS has no use for it.
sim_profiles=$("${compose[@]}" --env-file "$env_file" -f docker-compose.yml --profile sim config |
  awk '/^  kms-sim:$/ { inside = 1; next } /^  [^ ]/ { inside = 0 } inside' |
  awk '/^    profiles:/ { inside = 1; next } /^    [^ -]/ { inside = 0 } inside')
if ! grep -Eq '^ +- "?sim"?$' <<<"$sim_profiles"; then
  log "FAILED: kms-sim must be in the 'sim' profile"
  exit 1
fi
log "ok (services: $(echo "$services" | tr '\n' ' '))"
echo "docker-compose.yml is valid (default and sim profile)"
