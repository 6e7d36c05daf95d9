/**
 * What of a far side's error answer may enter a message, the history and the audit trail: never
 * the body verbatim (a misbehaving controller once answered with its `db_password=…`), only a
 * short, redacted summary — the first line, control characters removed, anything that looks like
 * a secret (a `password=`/`token:`-style pair, a bearer token, a URL with a password, a private
 * key) replaced by `[REDACTED]`, at most `max` characters.
 */
import { secretKeyReason, secretValueReason } from '../audit/secrets';

const PAIR = /(["']?)([A-Za-z0-9_.-]{2,64})\1(\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}]+)/g;

export function responseSummary(text: string, max = 120): string {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  let summary = firstLine.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ').trim();
  summary = summary.replace(/\bBearer\s+\S+/gi, 'Bearer [REDACTED]');
  summary = summary.replace(PAIR, (match, quote: string, key: string, sep: string) =>
    secretKeyReason(key) ? `${quote}${key}${quote}${sep}[REDACTED]` : match,
  );
  summary = summary
    .split(/(\s+)/)
    .map((part) => (secretValueReason(part) ? '[REDACTED]' : part))
    .join('');
  if (secretValueReason(summary)) summary = '[REDACTED]';
  return summary.length > max ? `${summary.slice(0, max - 1)}…` : summary;
}
