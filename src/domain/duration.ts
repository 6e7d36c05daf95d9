/**
 * Durations as operators write them: ISO-8601 (`PT2H`, `PT30S`, `P1DT2H`) or short forms (`30s`,
 * `90m`, `2h`, `1.5h`, `1d`). A bare number is refused: "30" could mean seconds or minutes, and
 * guessing wrong keeps a key store offline for the wrong length of time.
 *
 * Pure and deterministic, so the workflow can validate its own input with it.
 */
import ms from 'ms';
import { parse as parseIso } from 'tinyduration';

export const DURATION_FORMS = 'ISO-8601 (PT30S, PT2H, P1DT2H) or a short form (30s, 90m, 2h, 1d)';

const SHORT_FORM =
  /^\d+(\.\d+)?\s*(ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)$/i;

/** Milliseconds for a duration string, or undefined when it is not one of the accepted forms. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^P/i.test(trimmed)) return parseIsoDuration(trimmed.toUpperCase());
  if (!SHORT_FORM.test(trimmed)) return undefined;
  const value = ms(trimmed as ms.StringValue);
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : undefined;
}

function parseIsoDuration(text: string): number | undefined {
  try {
    const d = parseIso(text);
    // Months and years have no fixed length; a maintenance window must.
    if (d.years || d.months || d.negative) return undefined;
    const total =
      (d.weeks ?? 0) * 7 * 86_400_000 +
      (d.days ?? 0) * 86_400_000 +
      (d.hours ?? 0) * 3_600_000 +
      (d.minutes ?? 0) * 60_000 +
      (d.seconds ?? 0) * 1_000;
    return Number.isFinite(total) ? Math.round(total) : undefined;
  } catch {
    return undefined;
  }
}

/** A compact human form for messages and progress lines: `1h 30m`, `45s`, `250ms`. */
export function formatDuration(totalMs: number): string {
  if (totalMs < 1000) return `${Math.max(0, Math.round(totalMs))}ms`;
  let seconds = Math.round(totalMs / 1000);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3_600);
  seconds -= hours * 3_600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts = [
    days ? `${days}d` : '',
    hours ? `${hours}h` : '',
    minutes ? `${minutes}m` : '',
    seconds ? `${seconds}s` : '',
  ].filter(Boolean);
  return parts.join(' ');
}
