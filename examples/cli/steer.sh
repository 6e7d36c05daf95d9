#!/usr/bin/env bash
# Steers the run of $STORE_ID (started by start.sh): the status query until the store is offline,
# an update the run refuses, endWindowNow, then the result. Exits non-zero on anything unexpected.
source "$(dirname "$0")/env.sh"

# The status query's answer, as one JSON object (schema/maintenance-result.schema.json,
# $defs.MaintenanceStatus); the CLI prints the query's answers as a list under queryResult.
status() {
  temporal workflow query --workflow-id "$WORKFLOW_ID" --name status --output json |
    jq -c '.queryResult[0]'
}

phase=""
for _ in $(seq 1 300); do
  phase=$(status | jq -r '.phase')
  case "$phase" in
    IN_WINDOW) break ;;
    COMPLETED | CANCELLED | FAILED | NEEDS_ATTENTION) fail "the run ended $phase before IN_WINDOW" ;;
  esac
  sleep 1
done
[ "$phase" = IN_WINDOW ] || fail "the run is still in $phase after 5 minutes"
status | jq '{phase, window, store: .store.lastObservedState, message}'

# An update the run refuses (no duration): exit code 1, failure type UpdateRejected and the reason.
if output=$(temporal workflow update execute --workflow-id "$WORKFLOW_ID" \
  --name extendWindow --input "$(jq -cn --arg by "$BY" '{by: $by}')" 2>&1); then
  fail "extendWindow without a duration was accepted: $output"
fi
grep -q "type: UpdateRejected" <<<"$output" || fail "extendWindow failed otherwise: $output"
echo "extendWindow refused as expected: $output"

# End the window now: the run reconnects the store, verifies it and restores traffic.
answer=$(temporal workflow update execute --workflow-id "$WORKFLOW_ID" \
  --name endWindowNow --input "$(jq -cn --arg by "$BY" '{by: $by}')" --output json) ||
  fail "endWindowNow was refused"
echo "window ended at $(jq -r '.result.windowEndsAt' <<<"$answer")"

# The result. A run that ends FAILED or NEEDS_ATTENTION fails the workflow (exit code 1): its type is
# MaintenanceFailed or NeedsAttention, and the result is the first of its details.
if ! result=$(temporal workflow result --workflow-id "$WORKFLOW_ID" --output json); then
  failure=$(jq -c '.closeEvent.workflowExecutionFailedEventAttributes.failure // {}' <<<"${result:-null}")
  fail "the run failed: $(jq -r '.applicationFailureInfo.type // "?"' <<<"$failure"): $(jq -r '.message // "?"' <<<"$failure")"
fi
outcome=$(jq -r '.result.outcome' <<<"$result")
[ "$outcome" = COMPLETED ] || fail "the run ended $outcome: $(jq -r '.result.message' <<<"$result")"
echo "the run ended $outcome: $(jq -r '.result.message' <<<"$result")"
