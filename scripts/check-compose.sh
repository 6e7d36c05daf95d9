#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: `config -q` parses the file, checks it
# against the Compose schema and resolves every ${VARIABLE} — with the settings of .env.example
# (so the documented example stays in step with the file), with and without the `sim` profile.
# The secret files (secrets/README.md) are throwaway ones made here, in a temporary directory: the
# check neither needs nor touches a developer's own ./secrets. It also fails when the file declares
# other secrets than those documented, or not as files in KEYSTORE_MAINT_SECRETS_DIR. (That no
# secret is left in `environment:`, and that each service mounts what its *_FILE variables name,
# is checked by test/deployment/compose.test.ts.)
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

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/keystore-maint-compose.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT
env_file="$work_dir/env"
cp .env.example "$env_file"

# The secret files docker-compose.yml declares, as documented in secrets/README.md.
secret_names=(postgres_password aws_credentials audit_key audit_postgres_url webhook_secret)
secrets_dir="$work_dir/secrets"
mkdir -m 700 "$secrets_dir"
for name in "${secret_names[@]}"; do
  printf 'throwaway-%s-for-compose-config\n' "$name" >"$secrets_dir/$name"
done
printf '\n# added by check-compose.sh: throwaway secret files\nKEYSTORE_MAINT_SECRETS_DIR=%s\n' \
  "$secrets_dir" >>"$env_file"

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
  # A secret whose file is missing only warns too (docker-compose 1.x), and `up` would then mount
  # an empty directory in its place.
  if grep -qi 'secret' <<<"$output"; then
    log "FAILED ($label): a secret is not as documented in secrets/README.md:"
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

# The top-level secrets must be exactly the documented files, each under KEYSTORE_MAINT_SECRETS_DIR.
resolved=$("${compose[@]}" --env-file "$env_file" -f docker-compose.yml --profile sim config)
declared=$(awk '/^secrets:$/ { inside = 1; next } /^[^ ]/ { inside = 0 } inside && /^  [^ ]+:$/ { sub(/^  /, ""); sub(/:$/, ""); print }' <<<"$resolved" | sort)
expected=$(printf '%s\n' "${secret_names[@]}" | sort)
if [ "$declared" != "$expected" ]; then
  log "FAILED: docker-compose.yml declares the secrets [$(echo "$declared" | tr '\n' ' ')]," \
    "secrets/README.md and this script [$(echo "$expected" | tr '\n' ' ')]"
  exit 1
fi
for name in "${secret_names[@]}"; do
  if ! grep -Eq "^    file: \"?$secrets_dir/$name\"?$" <<<"$resolved"; then
    log "FAILED: secret '$name' is not the file \${KEYSTORE_MAINT_SECRETS_DIR:-./secrets}/$name"
    exit 1
  fi
done
log "ok (secrets: $(echo "$declared" | tr '\n' ' '))"
echo "docker-compose.yml is valid (default and sim profile)"
