#!/usr/bin/env bash
# Makes a real PostgreSQL server available for keystore-maint's tests (the audit PostgreSQL sink)
# and prints, as its last line on stdout:
#
#   KEYSTORE_MAINT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/keystore_maint_test
#
# - installs Debian's `postgresql` package if no server binaries are found (apt-get, as root);
# - runs a private cluster (trust authentication, listening on 127.0.0.1 only, durability off:
#   test data only) in its own directory, $KEYSTORE_MAINT_PG_DIR or ${TMPDIR:-/tmp}/keystore-maint-postgres,
#   reusing it when it is already running; the system's own clusters are left alone;
# - creates the database keystore_maint_test if missing.
#
# Usage: scripts/ensure-postgres.sh          start (or reuse) and print the URL
#        scripts/ensure-postgres.sh stop     stop the private cluster
# In CI:  export "$(bash scripts/ensure-postgres.sh | tail -n 1)"
set -euo pipefail

DB=keystore_maint_test
DIR="${KEYSTORE_MAINT_PG_DIR:-${TMPDIR:-/tmp}/keystore-maint-postgres}"
DATA="$DIR/data"

log() { echo "ensure-postgres: $*" >&2; }

server_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; fi
}

BIN=$(server_bin)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "no PostgreSQL server found; install it (sudo apt-get install -y postgresql) or set KEYSTORE_MAINT_TEST_POSTGRES_URL"
    exit 1
  fi
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(server_bin)
  if [ -z "$BIN" ]; then
    log "postgresql was installed but no server binaries are under /usr/lib/postgresql/*/bin"
    exit 1
  fi
fi

# initdb and postgres refuse to run as root: run them as the package's `postgres` user then.
if [ "$(id -u)" = 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_owner() { "$@"; }
  OWNER=$(id -un)
fi

mkdir -p "$DIR"
# Concurrent callers (several test files starting at once) must not both initdb or start. The
# server must not inherit this descriptor (9>&- below), or it would hold the lock for its lifetime.
exec 9>"$DIR/.ensure.lock"
flock 9
chown "$OWNER" "$DIR"
chmod 700 "$DIR"

if [ "${1:-}" = stop ]; then
  if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 9>&-
  fi
  exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating a private cluster in $DATA"
  rm -rf "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && [ -f "$DIR/port" ]; then
  PORT=$(cat "$DIR/port")
else
  PORT=""
  for candidate in $(seq 55432 55531); do
    if port_free "$candidate"; then PORT=$candidate; break; fi
  done
  if [ -z "$PORT" ]; then
    log "no free TCP port in 55432..55531 on 127.0.0.1"
    exit 1
  fi
  echo "$PORT" >"$DIR/port"
  log "starting PostgreSQL ($BIN) on 127.0.0.1:$PORT"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    start </dev/null >&2 9>&- || {
    tail -n 30 "$DIR/server.log" >&2 || true
    exit 1
  }
fi

PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAq -v ON_ERROR_STOP=1)
if [ "$(as_owner "${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  as_owner "${PSQL[@]}" -c "CREATE DATABASE $DB" >&2
fi

echo "KEYSTORE_MAINT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/$DB"
