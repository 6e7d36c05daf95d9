/**
 * Rules for free text that callers send (a request's `reason`, `requestedBy`, `ticket`, an
 * update's `by` and `reason`): it ends up in the workflow history, the audit trail and operators'
 * terminals, so it is checked where it enters, with an error naming the field.
 *
 * Refused:
 * - text that looks like it carries a secret (a PEM private key, a URL with a password, a bearer
 *   token): the audit sink would refuse the event, and the history would keep the secret;
 * - text that cannot be stored faithfully: unpaired UTF-16 surrogates (PostgreSQL and any UTF-8
 *   file turn them into U+FFFD, so the stored event no longer matches its hash) and NUL;
 * - control characters other than tab and newline (ESC starts terminal escape sequences, CR
 *   overwrites a line, both can disguise what an operator reads), and bidirectional overrides
 *   and isolates (they reorder what a terminal shows).
 */

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** `scheme://user:password@host`; a password of only `*` or `[REDACTED]` is already redacted. */
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:([^\s/?#@]+)@/i;
const BEARER_TOKEN = /\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Control characters, and the bidirectional overrides and isolates that can make a terminal show
// text in another order than it is stored ("Trojan Source").
// eslint-disable-next-line no-control-regex -- these are exactly the characters being refused
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

/** Why a string value looks like a secret, or undefined. */
export function secretValueReason(value: string): string | undefined {
  if (PEM_PRIVATE_KEY.test(value)) return 'the value contains a PEM private key';
  const url = URL_WITH_PASSWORD.exec(value);
  if (url && !isRedactedMarker(url[1] ?? '')) return 'the value contains a URL with a password';
  if (BEARER_TOKEN.test(value)) return 'the value contains a bearer token';
  return undefined;
}

function isRedactedMarker(password: string): boolean {
  return /^\*+$/.test(password) || /^\[?redacted\]?$/i.test(decodeURIComponentSafe(password));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * What is wrong with a piece of caller text, as the end of a sentence that starts with the field's
 * name ("reason: ..."), or undefined when it is acceptable.
 */
export function freeTextProblem(value: string): string | undefined {
  if (LONE_SURROGATE.test(value)) {
    return 'contains an unpaired UTF-16 surrogate, which no audit sink can store faithfully; send valid Unicode text';
  }
  if (value.includes('\u0000')) return 'contains a NUL character; remove it';
  const control = CONTROL.exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `contains the control or bidirectional-override character U+${code} (only tab and newline are allowed); remove it`;
  }
  const secret = secretValueReason(value);
  if (secret) {
    return `looks like it carries a secret (${secret.replace(/^the value /, '')}); never put credentials in a request — refer to them by name`;
  }
  return undefined;
}
