/**
 * Reading failures inside workflow code: the message and the `ApplicationFailure` a caller or an
 * operator should see, under Temporal's wrapping (`ActivityFailure`, `ChildWorkflowFailure`).
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';

function innermost(err: unknown): unknown {
  let current: unknown = err;
  while ((current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) && current.cause) {
    current = current.cause;
  }
  return current;
}

/**
 * The failure's own message, without Temporal's wrapping ("Activity task failed") and without a
 * final period, so it can be embedded in a sentence.
 */
export function rootMessage(err: unknown): string {
  const current = innermost(err);
  const text = current instanceof Error ? current.message : String(current);
  return text.trim().replace(/\.+$/, '');
}

/** The innermost `ApplicationFailure`, whose `type` and `details` say what happened. */
export function rootApplicationFailure(err: unknown): ApplicationFailure | undefined {
  const current = innermost(err);
  return current instanceof ApplicationFailure ? current : undefined;
}
