"""A Python service driving keystore-maint through Temporal's Python SDK, as another team would.

Reads a JSON plan on stdin (Temporal address, namespace, task queue, Region and the ids of the
simulator stores prepared for each step), drives runs with plain dicts, and prints one JSON
object with everything it saw: answers, results, and for every error the class Python raised
and the failure's type, message and details. It asserts nothing: the TypeScript test compares
what it printed with the simulator's ground truth.
"""

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, Optional

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

WORKFLOW_TYPE = "keyStoreMaintenance"


def canonical_id(region: str, store: str) -> str:
    return f"keystore-maint/{region}/{store}"


def describe_error(err: BaseException) -> Dict[str, Any]:
    """The Python class, and the innermost Temporal failure's type, message and details."""
    seen: Dict[str, Any] = {"pythonError": type(err).__name__, "chain": []}
    node: Optional[BaseException] = err
    while node is not None:
        seen["chain"].append(type(node).__name__)
        if isinstance(node, ApplicationError):
            seen["type"] = node.type
            seen["message"] = node.message
            seen["nonRetryable"] = node.non_retryable
            seen["details"] = list(node.details)
        elif isinstance(node, FailureError) and "message" not in seen:
            seen["message"] = node.message
        node = node.cause if isinstance(node, FailureError) else getattr(node, "cause", None)
    return seen


async def outcome(action: Callable[[], Awaitable[Any]]) -> Dict[str, Any]:
    """{"ok": answer} or {"error": what was raised}."""
    try:
        return {"ok": await action()}
    except (WorkflowUpdateFailedError, WorkflowFailureError, WorkflowAlreadyStartedError, RPCError) as err:
        return {"error": describe_error(err)}


def request(plan: Dict[str, Any], store: str, **extra: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "customKeyStoreId": store,
        "window": {"duration": "5m"},
        "maxWindow": "10m",
        "reason": "patch the XKS proxy (from Python)",
        "requestedBy": "python-service@example.com",
        "pollInterval": "200ms",
        "confirmSettle": plan["confirmSettle"],
        "timeouts": {"disconnect": "30s", "connect": "30s"},
    }
    body.update(extra)
    return body


async def wait_for_phase(handle: WorkflowHandle, phases: set, timeout_s: float = 30) -> Dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        status = await handle.query("status")
        if status["phase"] in phases:
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{handle.id} stayed in {status['phase']}, wanted one of {sorted(phases)}")
        await asyncio.sleep(0.2)


async def steer_one_run(client: Client, plan: Dict[str, Any]) -> Dict[str, Any]:
    """Start with null optional fields, query, every update valid/invalid/argument-less, finish."""
    store = plan["stores"]["steered"]
    handle = await client.start_workflow(
        WORKFLOW_TYPE,
        # None is what a dataclass or a Go pointer sends for "not set"; the contract reads it as absent.
        request(plan, store, region=None, ticket=None, canaryKeyId=None, approval=None),
        id=canonical_id(plan["region"], store),
        task_queue=plan["taskQueue"],
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    seen: Dict[str, Any] = {"workflowId": handle.id}
    seen["inWindow"] = await wait_for_phase(handle, {"IN_WINDOW"})
    u = handle.execute_update
    seen["updates"] = {
        "extendWindow.valid": await outcome(lambda: u("extendWindow", {"by": "py", "duration": "1m"})),
        "extendWindow.badDuration": await outcome(lambda: u("extendWindow", {"by": "py", "duration": "forever"})),
        "extendWindow.string": await outcome(lambda: u("extendWindow", "1m")),
        "extendWindow.noArgument": await outcome(lambda: u("extendWindow")),
        "approve.noApprovalNeeded": await outcome(lambda: u("approve", {"by": "py"})),
        "approve.noArgument": await outcome(lambda: u("approve")),
        "abort.null": await outcome(lambda: u("abort", None)),
        "abort.missingReason": await outcome(lambda: u("abort", {"by": "py"})),
        "endWindowNow.noArgument": await outcome(lambda: u("endWindowNow")),
        "endWindowNow.list": await outcome(lambda: u("endWindowNow", ["py"])),
        "unknownUpdate": await outcome(lambda: u("pause", {"by": "py"})),
    }
    seen["statusAfterRefusals"] = await handle.query("status")
    seen["updates"]["endWindowNow.valid"] = await outcome(lambda: u("endWindowNow", {"by": "py"}))
    seen["result"] = await outcome(handle.result)
    return seen


async def duplicate_starts(client: Client, plan: Dict[str, Any]) -> Dict[str, Any]:
    """A second start for a store already under maintenance, both ways a caller might try."""
    store = plan["stores"]["duplicate"]
    first = await client.start_workflow(
        WORKFLOW_TYPE, request(plan, store), id=canonical_id(plan["region"], store), task_queue=plan["taskQueue"]
    )
    await wait_for_phase(first, {"IN_WINDOW"})
    seen: Dict[str, Any] = {"workflowId": first.id}
    seen["sameIdFailPolicy"] = await outcome(
        lambda: client.start_workflow(
            WORKFLOW_TYPE,
            request(plan, store, window={"duration": "3h"}, maxWindow="4h"),
            id=first.id,
            task_queue=plan["taskQueue"],
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    )
    other = await client.start_workflow(
        WORKFLOW_TYPE,
        request(plan, store),
        id=f"py-duplicate-{uuid.uuid4()}",
        task_queue=plan["taskQueue"],
    )
    seen["generatedId"] = other.id
    seen["generatedIdResult"] = await outcome(other.result)
    seen["abort"] = await outcome(
        lambda: first.execute_update("abort", {"by": "python-service", "reason": "duplicate test done"})
    )
    seen["result"] = await outcome(first.result)
    return seen


async def early_abort_under_generated_id(client: Client, plan: Dict[str, Any]) -> Dict[str, Any]:
    """Start under an id of the caller's own, then abort as early as the canonical run exists."""
    store = plan["stores"]["earlyAbort"]
    generated = await client.start_workflow(
        WORKFLOW_TYPE,
        request(plan, store),
        id=f"py-early-{uuid.uuid4()}",
        task_queue=plan["taskQueue"],
    )
    seen: Dict[str, Any] = {"workflowId": generated.id}
    abort = {"by": "python-service", "reason": "changed our mind"}
    seen["abortToGeneratedId"] = await outcome(lambda: generated.execute_update("abort", abort))
    canonical = client.get_workflow_handle(canonical_id(plan["region"], store))
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            seen["abortToCanonicalId"] = {"ok": await canonical.execute_update("abort", abort)}
            break
        except RPCError as err:
            # The delegating run starts the canonical one a moment later.
            if err.status != RPCStatusCode.NOT_FOUND or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
    seen["canonicalResult"] = await outcome(canonical.result)
    seen["generatedResult"] = await outcome(generated.result)
    return seen


async def typed_failures(client: Client, plan: Dict[str, Any]) -> Dict[str, Any]:
    seen: Dict[str, Any] = {}
    invalid = await client.start_workflow(
        WORKFLOW_TYPE,
        {"customKeyStoreId": "cks-nope", "window": {"duration": "forever"}, "requestedBy": 42},
        id=f"py-invalid-{uuid.uuid4()}",
        task_queue=plan["taskQueue"],
    )
    seen["invalidRequest"] = await outcome(invalid.result)
    no_argument = await client.start_workflow(
        WORKFLOW_TYPE, id=f"py-no-argument-{uuid.uuid4()}", task_queue=plan["taskQueue"]
    )
    seen["noArgument"] = await outcome(no_argument.result)
    unknown = await client.start_workflow(
        WORKFLOW_TYPE,
        request(plan, plan["stores"]["unknown"]),
        id=canonical_id(plan["region"], plan["stores"]["unknown"]),
        task_queue=plan["taskQueue"],
    )
    seen["unknownStore"] = await outcome(unknown.result)
    store = plan["stores"]["needsAttention"]
    failing = await client.start_workflow(
        WORKFLOW_TYPE,
        request(plan, store, window={"duration": "1s"}),
        id=canonical_id(plan["region"], store),
        task_queue=plan["taskQueue"],
    )
    seen["needsAttention"] = await outcome(failing.result)
    seen["needsAttentionStatus"] = await failing.query("status")
    return seen


async def main() -> None:
    plan = json.load(sys.stdin)
    client = await Client.connect(plan["address"], namespace=plan["namespace"])
    results = await asyncio.gather(
        steer_one_run(client, plan),
        duplicate_starts(client, plan),
        early_abort_under_generated_id(client, plan),
        typed_failures(client, plan),
    )
    names = ["steered", "duplicate", "earlyAbort", "typedFailures"]
    json.dump(dict(zip(names, results)), sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), timeout=timedelta(minutes=3).total_seconds()))
    # The SDK's native threads can abort the interpreter during finalization
    # (temporalio/sdk-python#300); everything is written, so leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
