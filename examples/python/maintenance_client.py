"""Start a keystore-maint maintenance run from Python and steer it, as docs/contract.md describes.

1. starts keyStoreMaintenance under the store's canonical workflow id, conflict policy FAIL;
2. checks that a second start is refused (the per-store lock);
3. queries status until the store is offline (IN_WINDOW);
4. sends an extendWindow without a duration and expects UpdateRejected;
5. ends the window with endWindowNow;
6. waits for the result and expects COMPLETED.

Settings come from the environment: TEMPORAL_ADDRESS (default localhost:7233),
TEMPORAL_NAMESPACE (default "default"), KEYSTORE_MAINT_TASK_QUEUE (default
keystore-maintenance), STORE_ID and AWS_REGION (required). Exits 0 when everything went as
expected, 1 otherwise.

    pip install -r requirements.txt
    STORE_ID=cks-1234567890abcdef0 AWS_REGION=us-east-1 python maintenance_client.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

WORKFLOW_TYPE = "keyStoreMaintenance"
BY = "python-example@example.com"


class Unexpected(Exception):
    """Something did not go as the contract says."""


def application_error(error: BaseException | None) -> ApplicationError | None:
    """The ApplicationError in a chain of causes (a delegating run wraps its child's failure)."""
    while error is not None:
        if isinstance(error, ApplicationError):
            return error
        error = error.__cause__
    return None


async def wait_for_phase(handle: WorkflowHandle[Any, Any], phase: str) -> dict[str, Any]:
    """Runs the status query until the run is in `phase` (an end state first is an error)."""
    deadline = time.monotonic() + 300
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = await handle.query("status")
        if status["phase"] == phase:
            return status
        if status.get("outcome"):
            raise Unexpected(f"run ended {status['outcome']} before {phase}: {status['message']}")
        await asyncio.sleep(1)
    raise Unexpected(f"run still in {status.get('phase')} after 5 minutes, waiting for {phase}")


async def run() -> None:
    store_id = os.environ.get("STORE_ID", "")
    region = os.environ.get("AWS_REGION", "")
    if not store_id or not region:
        raise Unexpected("set STORE_ID (cks-...) and AWS_REGION")
    client = await Client.connect(
        os.environ.get("TEMPORAL_ADDRESS") or "localhost:7233",
        namespace=os.environ.get("TEMPORAL_NAMESPACE") or "default",
    )
    task_queue = os.environ.get("KEYSTORE_MAINT_TASK_QUEUE") or "keystore-maintenance"

    # 1. Start under the canonical id: one run per store. None is sent as null, i.e. absent.
    workflow_id = f"keystore-maint/{region}/{store_id}"
    request = {
        "customKeyStoreId": store_id,
        "region": region,
        "window": {"duration": "10m", "until": None},
        "reason": "rotate the XKS proxy TLS certificate",
        "requestedBy": BY,
        "ticket": "CHG-1234",
        "dryRun": None,
    }

    async def start() -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            WORKFLOW_TYPE,
            request,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )

    try:
        handle = await start()
    except WorkflowAlreadyStartedError as err:
        raise Unexpected(f"{store_id} already has a run ({err.run_id}): wait for it or abort it") from err
    print(f"started {workflow_id} run {handle.result_run_id}")

    # 2. The lock: a second start of the same store is refused.
    try:
        await start()
        raise Unexpected("a second start was not refused")
    except WorkflowAlreadyStartedError as err:
        print(f"second start refused: already running as run {err.run_id}")

    # 3. The status query, until the store is offline.
    status = await wait_for_phase(handle, "IN_WINDOW")
    print(f"phase {status['phase']}, window ends at {status['window'].get('endsAt')}")

    # 4. An update the run refuses: failure type UpdateRejected, the reason in its message.
    try:
        await handle.execute_update("extendWindow", {"by": BY})
        raise Unexpected("extendWindow without a duration was accepted")
    except WorkflowUpdateFailedError as err:
        cause = application_error(err.cause)
        if cause is None or cause.type != "UpdateRejected":
            raise Unexpected(f"extendWindow failed otherwise than UpdateRejected: {err.cause!r}") from err
        print(f"extendWindow refused as expected: {cause.message}")

    # 5. End the window now: the run reconnects the store, verifies it and restores traffic.
    answer = await handle.execute_update("endWindowNow", {"by": BY})
    print(f"window ended at {answer['windowEndsAt']}")

    # 6. The result. FAILED and NEEDS_ATTENTION fail the workflow: the result is in the details.
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        cause = application_error(err.cause)
        if cause is not None and cause.type in ("MaintenanceFailed", "NeedsAttention") and cause.details:
            failed = cause.details[0]
            raise Unexpected(
                f"run ended {failed['outcome']} (store {failed['store'].get('lastObservedState')}): {failed['message']}"
            ) from err
        if cause is not None and cause.type == "InvalidMaintenanceRequest" and cause.details:
            raise Unexpected(f"the request was refused: {cause.details[0]['problems']}") from err
        raise Unexpected(f"run failed: {err.cause!r}") from err
    if result["outcome"] != "COMPLETED" or not result["trafficRestored"]:
        raise Unexpected(f"run ended {result['outcome']}: {result['message']}")
    print(f"run ended {result['outcome']}: {result['message']}")


def main() -> int:
    try:
        asyncio.run(asyncio.wait_for(run(), timeout=600))
    except Unexpected as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # connection refused, timeouts, ...: unexpected too
        print(f"FAILED: {err!r}", file=sys.stderr)
        return 1
    print("OK: every step went as expected")
    return 0


def exit_now(code: int) -> None:
    """Ends the process without interpreter finalization.

    The SDK's Rust runtime keeps native threads that can abort the interpreter while it
    finalizes ("Fatal Python error: PyGILState_Release", temporalio/sdk-python#300), turning a
    run that went as expected into a crash with no exit code. All work is done and awaited by
    now, so flushing output and leaving directly loses nothing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
