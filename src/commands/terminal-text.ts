/**
 * Making text safe to print on an operator's terminal. Much of what the CLI prints is not its
 * own: `requestedBy`, `reason`, `ticket` and the `by` of updates come from whoever started or
 * steered a run, store names from KMS, error messages from the far side of a call, audit events
 * from a sink. Request validation refuses control characters where text enters, but a terminal
 * must not depend on every writer having been validated (older runs, other clients, the sink, KMS).
 *
 * Written out as a visible `\u` escape with four hex digits:
 * - C0 controls except tab and newline (ESC starts escape sequences such as OSC 52, which writes
 *   the clipboard; CR and BS overwrite what was printed; BEL rings), and DEL;
 * - C1 controls U+0080–U+009F (U+009B is a one-character CSI on some terminals);
 * - bidirectional formatting characters (U+202A–U+202E embeddings and overrides, U+2066–U+2069
 *   isolates, and the marks U+061C, U+200E, U+200F): they reorder what is displayed, so that
 *   the text read is not the text stored.
 *
 * The escape is JSON's own syntax, so escaping JSON text (`terminalJson`) keeps it valid JSON with
 * the same meaning. A single value is also capped in length, with an ellipsis saying how much was
 * left out, so that one huge field cannot bury the rest of the output.
 */

/** Characters escaped everywhere. */
// eslint-disable-next-line no-control-regex -- these are exactly the characters being escaped
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
/** The same, and newline and tab too: for values printed inside one line. */
// eslint-disable-next-line no-control-regex -- these are exactly the characters being escaped
const UNSAFE_IN_LINE = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** The default cap on one printed value, in characters (after escaping). */
export const TERMINAL_TEXT_MAX_LENGTH = 2_000;
/** The cap on a whole message (an error, a report), which may list many problems. */
export const TERMINAL_MESSAGE_MAX_LENGTH = 10_000;

export interface TerminalTextOptions {
  /**
   * How many characters of the value to print (an escape counts as the characters it is written
   * with); a longer value is cut there and ends in an ellipsis naming how many characters were
   * left out. Default `TERMINAL_TEXT_MAX_LENGTH`; `Infinity` for a whole document.
   */
  readonly maxLength?: number;
  /** Escape newline and tab as well: the value is printed inside one line (a status line, a row). */
  readonly singleLine?: boolean;
}

function escapeCharacter(character: string): string {
  if (character === '\n') return '\\n';
  if (character === '\t') return '\\t';
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `value` (a string, or anything else as `String(value)`) made safe to print on a terminal: see
 * the file comment for what is escaped. Printable text, including any other Unicode, is kept.
 */
export function terminalText(value: unknown, options: TerminalTextOptions = {}): string {
  const text = typeof value === 'string' ? value : String(value);
  const escaped = text.replace(options.singleLine ? UNSAFE_IN_LINE : UNSAFE, escapeCharacter);
  return capped(escaped, options.maxLength ?? TERMINAL_TEXT_MAX_LENGTH);
}

function capped(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let end = Math.max(0, Math.floor(maxLength));
  // Never split a surrogate pair: half of one prints as U+FFFD.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

/**
 * A template tag: every interpolated value goes through `terminalText(value, { singleLine: true })`,
 * the literal parts (the CLI's own text) are kept as written.
 *
 *     console.log(printable`  requested by ${status.requestedBy}: ${status.reason}`);
 */
export function printable(strings: TemplateStringsArray, ...values: readonly unknown[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += terminalText(value, { singleLine: true }) + (strings[index + 1] ?? '');
  });
  return out;
}

/**
 * `JSON.stringify(value, null, 2)` safe to print. JSON.stringify escapes C0 controls but writes
 * DEL, C1 controls and bidi characters as they are; they are escaped here as `\u` and four hex digits, which
 * keeps the text valid JSON with the same value. Never capped.
 */
export function terminalJson(value: unknown): string {
  return terminalText(JSON.stringify(value, null, 2), { maxLength: Infinity });
}
