/** Making text safe to print on a terminal (src/commands/terminal-text.ts). */
import { describe, expect, it } from 'vitest';
import {
  printable,
  TERMINAL_TEXT_MAX_LENGTH,
  terminalJson,
  terminalText,
} from '../../src/commands/terminal-text';

const ESC = '\u001b';
const OSC52 = `${ESC}]52;c;ZXZpbA==\u0007`;
/** Any character a terminal acts on, or that reorders what it shows. */
// eslint-disable-next-line no-control-regex -- these are exactly the characters that must not get through
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

describe('terminalText', () => {
  it('writes ESC out, so no escape sequence (colours, cursor moves, OSC 52) reaches the terminal', () => {
    expect(terminalText(`${ESC}[31mred${ESC}[0m`)).toBe('\\u001b[31mred\\u001b[0m');
    const osc = terminalText(`alice${OSC52}`);
    expect(osc).toBe('alice\\u001b]52;c;ZXZpbA==\\u0007');
    expect(osc).not.toMatch(UNSAFE);
  });

  it('writes out CR, BS, BEL, DEL and the other C0 controls, keeping newline and tab', () => {
    expect(terminalText('approved\rrejected')).toBe('approved\\u000drejected');
    expect(terminalText('ab\bc\u0007\u007f\u0000')).toBe('ab\\u0008c\\u0007\\u007f\\u0000');
    expect(terminalText('line 1\nline 2\tcolumn')).toBe('line 1\nline 2\tcolumn');
  });

  it('escapes newline and tab too for a value printed inside one line', () => {
    expect(terminalText('line 1\nline 2\tx\r', { singleLine: true })).toBe('line 1\\nline 2\\tx\\u000d');
  });

  it('writes out C1 controls (U+009B is a one-character CSI)', () => {
    expect(terminalText('a\u009b31mb\u0085c\u0080')).toBe('a\\u009b31mb\\u0085c\\u0080');
  });

  it('writes out bidi overrides, embeddings, isolates and marks (Trojan Source)', () => {
    const text = 'user\u202egnp.exe\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c';
    const safe = terminalText(text);
    expect(safe).toBe(
      'user\\u202egnp.exe\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c',
    );
    expect(safe).not.toMatch(UNSAFE);
  });

  it('keeps printable Unicode as it is', () => {
    const text = 'Zoë — 東京 🔑 Ünïcödé → ✓';
    expect(terminalText(text)).toBe(text);
  });

  it('caps a long value with an ellipsis saying how much was left out', () => {
    const long = 'x'.repeat(TERMINAL_TEXT_MAX_LENGTH + 500);
    const out = terminalText(long);
    expect(out.startsWith('x'.repeat(TERMINAL_TEXT_MAX_LENGTH))).toBe(true);
    expect(out.slice(TERMINAL_TEXT_MAX_LENGTH)).toBe('… (500 more characters)');
    expect(terminalText('abcdef', { maxLength: 3 })).toBe('abc… (3 more characters)');
    expect(terminalText(long, { maxLength: Infinity })).toBe(long);
  });

  it('counts escapes as written, and never cuts a surrogate pair in half', () => {
    expect(terminalText(`${ESC}${ESC}${ESC}`, { maxLength: 6 })).toBe('\\u001b… (12 more characters)');
    expect(terminalText('ab🔑cd', { maxLength: 3 })).toBe('ab… (4 more characters)');
  });

  it('prints anything else as String(value)', () => {
    expect(terminalText(42)).toBe('42');
    expect(terminalText(undefined)).toBe('undefined');
  });
});

describe('printable', () => {
  it('escapes the interpolated values, on one line, and keeps the literal text', () => {
    const line = printable`requested by ${`mallory${OSC52}`}: ${'fine\rFAKE\nnext'} (${3} runs)`;
    expect(line).toBe('requested by mallory\\u001b]52;c;ZXZpbA==\\u0007: fine\\u000dFAKE\\nnext (3 runs)');
  });
});

describe('terminalJson', () => {
  it('stays valid JSON with the same value, with nothing a terminal acts on left raw', () => {
    const value = {
      reason: `a${OSC52}\r\n`,
      name: 'x\u202ey\u009b\u007f',
      plain: 'Zoë',
      n: 1,
    };
    const text = terminalJson(value);
    expect(text).not.toMatch(UNSAFE);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\u009b');
  });

  it('is not capped', () => {
    const value = { reason: 'x'.repeat(TERMINAL_TEXT_MAX_LENGTH * 3) };
    expect(JSON.parse(terminalJson(value))).toEqual(value);
  });
});
