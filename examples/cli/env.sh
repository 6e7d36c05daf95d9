# Settings for the other scripts in this directory (sourced, not run): from the environment, like
# every keystore-maint client. Needs the Temporal CLI 1.5.1 and jq.
set -euo pipefail

: "${STORE_ID:?set STORE_ID, the custom key store id, e.g. cks-1234567890abcdef0}"
: "${AWS_REGION:?set AWS_REGION, the Region of the store, e.g. us-east-1}"
TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-localhost:7233}"
TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
TASK_QUEUE="${KEYSTORE_MAINT_TASK_QUEUE:-keystore-maintenance}"
BY="${BY:-cli-example@example.com}"

# The canonical workflow id of the store's maintenance: one run per store at a time.
WORKFLOW_ID="keystore-maint/${AWS_REGION}/${STORE_ID}"

# The temporal CLI (TEMPORAL_CLI_PATH, else `temporal` on PATH), always against the configured
# server and namespace.
temporal() {
  command "${TEMPORAL_CLI_PATH:-temporal}" "$@" --address "$TEMPORAL_ADDRESS" --namespace "$TEMPORAL_NAMESPACE"
}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

command -v jq >/dev/null || fail "these examples need jq"
command -v "${TEMPORAL_CLI_PATH:-temporal}" >/dev/null || fail "no temporal CLI (set TEMPORAL_CLI_PATH)"
