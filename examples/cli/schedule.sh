#!/usr/bin/env bash
# A recurring window for $STORE_ID: a Temporal Schedule that starts keyStoreMaintenance on the first
# Sunday of every month at 02:00 Europe/Berlin, for 2 hours. Exits non-zero on anything unexpected.
#
# Scheduled runs start under "keystore-maint-schedule/<schedule id>-<time>", which is not the
# store's canonical id: each one runs the maintenance as a child under keystore-maint/<region>/<store>,
# so the per-store lock still holds. Send updates and queries to that child.
#
# SCHEDULE_ID (default keystore-maint-example-$STORE_ID); DELETE_SCHEDULE=1 deletes it at the end.
source "$(dirname "$0")/env.sh"
SCHEDULE_ID="${SCHEDULE_ID:-keystore-maint-example-${STORE_ID}}"

REQUEST=$(jq -cn --arg store "$STORE_ID" --arg region "$AWS_REGION" --arg by "$BY" '{
  customKeyStoreId: $store,
  region: $region,
  window: { duration: "2h" },
  reason: "monthly HSM patching",
  requestedBy: $by
}')

temporal schedule create \
  --schedule-id "$SCHEDULE_ID" \
  --calendar '{"dayOfWeek": "Sun", "dayOfMonth": "1-7", "hour": "2", "minute": "0"}' \
  --time-zone Europe/Berlin \
  --overlap-policy Skip \
  --catchup-window 15m \
  --type keyStoreMaintenance \
  --task-queue "$TASK_QUEUE" \
  --workflow-id "keystore-maint-schedule/$SCHEDULE_ID" \
  --search-attribute "KmsCustomKeyStoreId=\"$STORE_ID\"" \
  --input "$REQUEST" ||
  fail "schedule $SCHEDULE_ID not created (does it exist already? temporal schedule describe --schedule-id $SCHEDULE_ID)"

described=$(temporal schedule describe --schedule-id "$SCHEDULE_ID" --output json) ||
  fail "schedule $SCHEDULE_ID not found after creating it"
grep -q keyStoreMaintenance <<<"$described" || fail "schedule $SCHEDULE_ID does not start keyStoreMaintenance"
echo "schedule $SCHEDULE_ID created"

if [ "${DELETE_SCHEDULE:-0}" = 1 ]; then
  temporal schedule delete --schedule-id "$SCHEDULE_ID" || fail "schedule $SCHEDULE_ID not deleted"
  echo "schedule $SCHEDULE_ID deleted"
fi
