#!/usr/bin/env bash
# The production rehearsal (docs/operations.md, "Production rehearsal"): keystore-maint on a real
# Temporal cluster — the Temporal server built from its Go module, persisting to PostgreSQL with
# SQL visibility — instead of the single-process dev server every other test uses.
#
#   bash scripts/production-rehearsal.sh server   build or find the server and its SQL tool, start a
#                                                 private PostgreSQL, create and migrate the
#                                                 `temporal` and `temporal_visibility` databases
#                                                 with the server's own schemas, start the server
#                                                 with config/temporal/postgresql.yaml, register the
#                                                 namespace and search attributes; prints the
#                                                 settings as KEY=value lines (last on stdout)
#   bash scripts/production-rehearsal.sh up       all of `server`, then the KMS simulator and two
#                                                 keystore-maint workers from the built package,
#                                                 started as the image's entrypoint starts them
#                                                 (`node bin/keystore-maint.js worker`)  [npm run rehearse]
#   bash scripts/production-rehearsal.sh down     stops the workers, the simulator, the server and
#                                                 the PostgreSQL cluster
#
# The server and SQL tool are cached in .tools/temporal-server-<version>/ (like the Temporal CLI),
# built with `go install go.temporal.io/server/cmd/server@<version>` and `.../cmd/tools/sql`
# (Go 1.26 or newer), their schemas copied from the same module. State, logs and pids live in
# $KEYSTORE_MAINT_REHEARSAL_DIR (default ${TMPDIR:-/tmp}/keystore-maint-rehearsal).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

VERSION=v1.29.1
TOOLS="$ROOT/.tools/temporal-server-$VERSION"
STATE="${KEYSTORE_MAINT_REHEARSAL_DIR:-${TMPDIR:-/tmp}/keystore-maint-rehearsal}"
NAMESPACE="${KEYSTORE_MAINT_REHEARSAL_NAMESPACE:-keystore-maint-rehearsal}"
PG_DIR="$STATE/postgres"
mkdir -p "$STATE"

log() { echo "production-rehearsal: $*" >&2; }
die() {
  log "$*"
  exit 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ten consecutive free ports from $1 on (the server's gRPC, HTTP and membership ports).
free_block() {
  local base=$1 p ok
  while [ "$base" -lt 60000 ]; do
    ok=1
    for p in $(seq "$base" $((base + 9))); do
      if ! port_free "$p"; then
        ok=0
        break
      fi
    done
    if [ "$ok" = 1 ]; then
      echo "$base"
      return 0
    fi
    base=$((base + 10))
  done
  return 1
}

ensure_binaries() {
  if [ -x "$TOOLS/temporal-server" ] && [ -x "$TOOLS/temporal-sql-tool" ] && [ -d "$TOOLS/schema/postgresql/v12" ]; then
    return 0
  fi
  command -v go >/dev/null || die "Go is needed to build the Temporal server $VERSION (go install); install Go 1.26 or newer"
  log "building the Temporal server $VERSION and its SQL tool (go install; a few minutes the first time)"
  local bin
  bin=$(mktemp -d)
  GOBIN="$bin" go install "go.temporal.io/server/cmd/server@$VERSION" >&2
  GOBIN="$bin" go install "go.temporal.io/server/cmd/tools/sql@$VERSION" >&2
  local module
  module="$(go env GOMODCACHE)/go.temporal.io/server@$VERSION"
  [ -d "$module/schema/postgresql/v12" ] || die "the module's schemas are not at $module/schema/postgresql/v12"
  mkdir -p "$TOOLS/schema/postgresql"
  rm -rf "$TOOLS/schema/postgresql/v12"
  cp -R "$module/schema/postgresql/v12" "$TOOLS/schema/postgresql/v12"
  chmod -R u+w "$TOOLS/schema"
  mv "$bin/server" "$TOOLS/temporal-server"
  mv "$bin/sql" "$TOOLS/temporal-sql-tool"
  rmdir "$bin"
}

temporal_cli() {
  node "$ROOT/bin/keystore-maint.js" temporal-ensure >/dev/null 2>&1 || true
  local cli="$ROOT/.tools/temporal"
  [ -x "$cli" ] || cli=$(command -v temporal || true)
  [ -n "$cli" ] || die "the temporal CLI is missing: run node bin/keystore-maint.js temporal-ensure"
  echo "$cli"
}

start_postgres() {
  local line
  line=$(KEYSTORE_MAINT_PG_DIR="$PG_DIR" bash scripts/ensure-postgres.sh | tail -n 1)
  PG_PORT=$(echo "$line" | sed -E 's#.*@127\.0\.0\.1:([0-9]+)/.*#\1#')
  [ -n "$PG_PORT" ] || die "scripts/ensure-postgres.sh printed no port: $line"
}

sql_tool() { "$TOOLS/temporal-sql-tool" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u postgres "$@"; }

migrate() {
  local db=$1 dir=$2
  if ! sql_tool --db "$db" update-schema -d "$TOOLS/schema/postgresql/v12/$dir/versioned" >"$STATE/migrate-$db.log" 2>&1; then
    # A database that does not exist yet: create it, set up the versioning tables, then migrate.
    sql_tool --db "$db" create-database >>"$STATE/migrate-$db.log" 2>&1 || true
    sql_tool --db "$db" setup-schema -v 0.0 >>"$STATE/migrate-$db.log" 2>&1 ||
      die "setting up $db failed: $(tail -n 5 "$STATE/migrate-$db.log")"
    sql_tool --db "$db" update-schema -d "$TOOLS/schema/postgresql/v12/$dir/versioned" >>"$STATE/migrate-$db.log" 2>&1 ||
      die "migrating $db failed: $(tail -n 5 "$STATE/migrate-$db.log")"
  fi
  log "database $db: migrated to the newest schema of the server module"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
  local file=$1
  if running "$file"; then
    kill -TERM "$(cat "$file")" 2>/dev/null || true
    for _ in $(seq 1 100); do
      running "$file" || break
      sleep 0.1
    done
    running "$file" && kill -KILL "$(cat "$file")" 2>/dev/null || true
  fi
  rm -f "$file"
}

start_server() {
  if running "$STATE/server.pid" && [ -f "$STATE/server.env" ]; then
    # shellcheck disable=SC1091
    . "$STATE/server.env"
    return 0
  fi
  local base
  base=$(free_block 17233) || die "no ten free ports from 17233 on"
  cat >"$STATE/server.env" <<ENV
TEMPORAL_PG_HOST=127.0.0.1
TEMPORAL_PG_PORT=$PG_PORT
TEMPORAL_PG_USER=postgres
TEMPORAL_PG_PASSWORD=
TEMPORAL_FRONTEND_PORT=$base
TEMPORAL_FRONTEND_HTTP_PORT=$((base + 1))
TEMPORAL_HISTORY_PORT=$((base + 2))
TEMPORAL_MATCHING_PORT=$((base + 3))
TEMPORAL_WORKER_PORT=$((base + 4))
TEMPORAL_FRONTEND_MEMBERSHIP_PORT=$((base + 5))
TEMPORAL_HISTORY_MEMBERSHIP_PORT=$((base + 6))
TEMPORAL_MATCHING_MEMBERSHIP_PORT=$((base + 7))
TEMPORAL_WORKER_MEMBERSHIP_PORT=$((base + 8))
TEMPORAL_DYNAMIC_CONFIG=$ROOT/config/temporal/dynamicconfig.yaml
ENV
  run_server
}

# Starts the server from server.env (also used to restart it with the same ports and databases).
run_server() {
  set -a
  # shellcheck disable=SC1091
  . "$STATE/server.env"
  set +a
  log "starting the Temporal server $VERSION on 127.0.0.1:$TEMPORAL_FRONTEND_PORT (PostgreSQL 127.0.0.1:$TEMPORAL_PG_PORT)"
  setsid "$TOOLS/temporal-server" --root "$ROOT" --config config/temporal --env postgresql --allow-no-auth start \
    >>"$STATE/server.log" 2>&1 </dev/null &
  echo $! >"$STATE/server.pid"
  local cli
  cli=$(temporal_cli)
  for _ in $(seq 1 120); do
    if "$cli" operator cluster health --address "127.0.0.1:$TEMPORAL_FRONTEND_PORT" 2>/dev/null | grep -q SERVING; then
      return 0
    fi
    running "$STATE/server.pid" || die "the server exited: $(tail -n 20 "$STATE/server.log")"
    sleep 0.5
  done
  die "the server did not become healthy within 60 s: $(tail -n 20 "$STATE/server.log")"
}

register_namespace() {
  local cli address="127.0.0.1:$TEMPORAL_FRONTEND_PORT"
  cli=$(temporal_cli)
  if ! "$cli" operator namespace describe --address "$address" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    "$cli" operator namespace create --address "$address" --namespace "$NAMESPACE" --retention 72h >&2
  fi
  for attempt in $(seq 1 30); do
    "$cli" operator search-attribute create --address "$address" --namespace "$NAMESPACE" \
      --name KmsCustomKeyStoreId --type Keyword --name MaintenancePhase --type Keyword >/dev/null 2>&1 || true
    if "$cli" operator search-attribute list --address "$address" --namespace "$NAMESPACE" 2>/dev/null |
      grep -q MaintenancePhase; then
      return 0
    fi
    [ "$attempt" = 30 ] && die "search attributes not registered in $NAMESPACE"
    sleep 1
  done
}

server() {
  ensure_binaries
  start_postgres
  migrate temporal temporal
  migrate temporal_visibility visibility
  start_server
  register_namespace
  cat >"$STATE/cluster.env" <<ENV
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_FRONTEND_PORT
TEMPORAL_NAMESPACE=$NAMESPACE
KEYSTORE_MAINT_REHEARSAL_DIR=$STATE
ENV
  cat "$STATE/cluster.env"
}

up() {
  server >/dev/null
  set -a
  # shellcheck disable=SC1091
  . "$STATE/cluster.env"
  set +a
  [ -f dist/workflow-bundle.js ] && [ -f dist/src/cli.js ] || npm run -s build >&2
  if ! running "$STATE/sim.pid"; then
    node bin/keystore-maint.js sim --port 0 --state-file "$STATE/sim.json" >"$STATE/sim.log" 2>&1 &
    echo $! >"$STATE/sim.pid"
  fi
  local sim=""
  for _ in $(seq 1 100); do
    sim=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$STATE/sim.log" | head -n 1 || true)
    [ -n "$sim" ] && break
    sleep 0.1
  done
  [ -n "$sim" ] || die "the simulator did not start: $(cat "$STATE/sim.log")"
  for n in 1 2; do
    running "$STATE/worker-$n.pid" && continue
    # As the image's entrypoint runs it: node bin/keystore-maint.js worker, configured by env.
    # Replicas share one audit trail, as a deployment's do: a run's batches continue its sequence
    # through whichever replica writes them. Two replicas share the KMS budget.
    env AWS_REGION=us-east-1 AWS_ENDPOINT_URL_KMS="$sim" AWS_ENDPOINT_URL_STS="$sim" \
      AWS_ACCESS_KEY_ID=AKIAREHEARSAL0000000 AWS_SECRET_ACCESS_KEY=rehearsal-secret \
      KEYSTORE_MAINT_WORKFLOW_BUNDLE="$ROOT/dist/workflow-bundle.js" KEYSTORE_MAINT_KMS_WORKERS=2 \
      KEYSTORE_MAINT_AUDIT_SINK=file KEYSTORE_MAINT_AUDIT_FILE="$STATE/audit.jsonl" KEYSTORE_MAINT_AUDIT_UNKEYED=1 \
      node bin/keystore-maint.js worker >"$STATE/worker-$n.log" 2>&1 &
    echo $! >"$STATE/worker-$n.pid"
  done
  cat "$STATE/cluster.env"
  echo "AWS_ENDPOINT_URL_KMS=$sim"
  log "two workers polling keystore-maintenance in $NAMESPACE; logs in $STATE; stop with: bash scripts/production-rehearsal.sh down"
}

down() {
  for f in worker-1 worker-2 sim server; do stop_pid "$STATE/$f.pid"; done
  KEYSTORE_MAINT_PG_DIR="$PG_DIR" bash scripts/ensure-postgres.sh stop || true
  log "stopped (state kept in $STATE)"
}

case "${1:-up}" in
  server) server ;;
  restart-server)
    stop_pid "$STATE/server.pid"
    run_server
    ;;
  up) up ;;
  down) down ;;
  *) die "usage: $0 server|up|down|restart-server" ;;
esac
