#!/usr/bin/env bash
# Starts a maintenance run of $STORE_ID under its canonical workflow id, then checks that a second
# start is refused (the per-store lock). Exits non-zero on anything unexpected.
#
# --fail-existing is what makes the CLI refuse: without it (and with --id-conflict-policy Fail
# alone) the CLI 1.5.1 prints "Running execution" with the id of the run already going, exits 0,
# and this request is dropped without a word.
source "$(dirname "$0")/env.sh"

REQUEST=$(jq -cn --arg store "$STORE_ID" --arg region "$AWS_REGION" --arg by "$BY" '{
  customKeyStoreId: $store,
  region: $region,
  window: { duration: "10m" },
  reason: "rotate the XKS proxy TLS certificate",
  requestedBy: $by,
  ticket: "CHG-1234"
}')

temporal workflow start \
  --type keyStoreMaintenance \
  --task-queue "$TASK_QUEUE" \
  --workflow-id "$WORKFLOW_ID" \
  --input "$REQUEST" \
  --fail-existing ||
  fail "not started; if $STORE_ID already has a run: temporal workflow describe --workflow-id $WORKFLOW_ID"

# A second start of the same store: refused with "Workflow execution is already running".
if output=$(temporal workflow start --type keyStoreMaintenance --task-queue "$TASK_QUEUE" \
  --workflow-id "$WORKFLOW_ID" --input "$REQUEST" --fail-existing 2>&1); then
  fail "a second start was not refused: $output"
fi
grep -qi "already running" <<<"$output" || fail "the second start failed otherwise: $output"
echo "second start refused as expected: $output"
