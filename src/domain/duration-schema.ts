/** A zod schema for a duration string that becomes milliseconds, with range checks. */
import { z } from 'zod';
import { DURATION_FORMS, formatDuration, parseDuration } from './duration';

export function durationSchema(range: { min?: number; max?: number }) {
  const bounds = [
    range.min !== undefined ? `at least ${formatDuration(range.min)}` : '',
    range.max !== undefined ? `at most ${formatDuration(range.max)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return z
    .string({ error: `must be a duration string: ${DURATION_FORMS}` })
    .meta({ description: `A duration: ${DURATION_FORMS}${bounds ? `; ${bounds}` : ''}.` })
    .transform((text, ctx) => {
      const value = parseDuration(text);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; use ${DURATION_FORMS}` });
        return z.NEVER;
      }
      if (range.min !== undefined && value < range.min) {
        ctx.addIssue({
          code: 'custom',
          message: `"${text}" is shorter than the minimum ${formatDuration(range.min)}`,
        });
        return z.NEVER;
      }
      if (range.max !== undefined && value > range.max) {
        ctx.addIssue({
          code: 'custom',
          message: `"${text}" is longer than the maximum ${formatDuration(range.max)}`,
        });
        return z.NEVER;
      }
      return value;
    });
}
