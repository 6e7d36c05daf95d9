/**
 * The updates' arguments and answers, as zod schemas: the contract for callers in other languages
 * (the JSON Schema files under schema/updates/, scripts/generate-schemas.ts). They state what the
 * update validators (workflows/update-arguments.ts and the validators in workflows/maintenance.ts
 * and workflows/fleet.ts) enforce about the argument's shape; the validators stay the authority at
 * run time, and they also refuse updates that do not fit the run's state (e.g. `extendWindow`
 * outside `IN_WINDOW` or past `maxWindow`), which no schema can say.
 *
 * - one argument, an object (no argument, `null`, a list or a string is refused);
 * - `by` and `reason`: free text like the request's (trimmed, not empty, at most 256 and 1024
 *   characters, no secrets or control characters);
 * - `duration` (extendWindow): a positive duration string of at most 64 characters;
 * - other members are ignored.
 */
import { z } from 'zod';
import { DURATION_FORMS, parseDuration } from './duration';
import { freeText, TEXT_LIMITS } from './request';
import { timestampSchema } from './result-schema';

const by = freeText(TEXT_LIMITS.actor).meta({
  description: 'Who sends the update, e.g. "alice@example.com" (audit trail).',
});
const reason = freeText(TEXT_LIMITS.reason).meta({ description: 'Why (audit trail).' });

/** The longest `duration` the extendWindow validator reads. */
export const EXTEND_DURATION_MAX_LENGTH = 64;

export const approveArgumentSchema = z.object({ by });
export const approveAnswerSchema = z.object({
  approvedBy: z.string().meta({ description: 'Who approved the run (the first approver).' }),
  approvedAt: timestampSchema,
  alreadyApproved: z
    .boolean()
    .meta({ description: 'True when the run was approved before (approving twice is harmless).' }),
});

export const extendWindowArgumentSchema = z.object({
  by,
  duration: z
    .string({ error: 'must be a duration string' })
    .min(1)
    .max(EXTEND_DURATION_MAX_LENGTH)
    .refine((text) => (parseDuration(text) ?? 0) > 0, `must be a positive duration: ${DURATION_FORMS}`)
    .meta({
      description: `How much longer the window stays open: a positive duration, ${DURATION_FORMS}. The run refuses an extension past the request's maxWindow, naming the largest one allowed.`,
    }),
});

export const endWindowNowArgumentSchema = z.object({
  by,
  force: z.boolean().optional().meta({
    description:
      'Connect now even though the readiness probes say the store is not ready (only while the run waits for them; audited).',
  }),
});

/** The answer of extendWindow and endWindowNow. */
export const windowAnswerSchema = z.object({
  windowEndsAt: timestampSchema.meta({ description: 'When the window ends now.' }),
});

export const abortArgumentSchema = z.object({ by, reason });
export const abortAnswerSchema = z.object({
  accepted: z.literal(true),
  phase: z.string().meta({
    description:
      'The phase the run was in when the abort arrived: PREFLIGHT, AWAITING_APPROVAL, DRAINING, DISCONNECTING, WAITING_DISCONNECTED or IN_WINDOW (later, abort is refused).',
  }),
});

export const fleetAbortArgumentSchema = z.object({ by, reason });
export const fleetAbortAnswerSchema = z.object({
  accepted: z.literal(true),
  cancelling: z
    .number()
    .int()
    .min(0)
    .meta({ description: 'Runs under way that were cancelled (each undoes its changes before it ends).' }),
  notStarted: z.number().int().min(0).meta({ description: 'Stores that will not be started.' }),
});
