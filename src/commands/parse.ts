/** Commander argument parsers whose errors name the flag's expectations. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { DURATION_FORMS, parseDuration } from '../domain/duration';
import { CliError } from './exit-codes';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port number (0-65535).`);
  }
  return port;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a whole number >= 0.`);
  return n;
}

/** Validates a duration flag but keeps the text: the request carries durations as strings. */
export function parseDurationText(value: string): string {
  if (parseDuration(value) === undefined) {
    throw new InvalidArgumentError(`"${value}" is not a duration; use ${DURATION_FORMS}.`);
  }
  return value;
}

/** Milliseconds from a duration flag. */
export function parseDurationMs(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(`"${value}" is not a duration; use ${DURATION_FORMS}.`);
  return ms;
}

/** `--input <file>`: one JSON object (the same JSON an operator pastes into the Temporal UI). */
export function readInput(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`--input: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`--input: ${path} is not one JSON object (${(err as Error).message})`);
  }
}
