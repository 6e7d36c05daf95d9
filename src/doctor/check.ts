/**
 * What a doctor check reports, and the helpers every check shares: a time limit per check, and
 * the few formats the lines use. See src/doctor/index.ts.
 */

/**
 * `ok` passed; `fail` failed (with a fix); `skip` not checked because an earlier check failed
 * (counts as not passing); `warn` passed with a caveat (with a fix); `info` not a test at all,
 * something to check by hand (with how).
 */
export type CheckStatus = 'ok' | 'fail' | 'skip' | 'warn' | 'info';

/** Every check, by its stable name (the JSON's `name`), with its title on the text line. */
export const CHECKS = {
  'temporal.connection': 'connection',
  'temporal.namespace': 'namespace',
  'temporal.search-attributes': 'search attributes',
  'temporal.worker': 'worker',
  'temporal.kms-worker': 'KMS worker',
  'aws.credentials': 'credentials',
  'aws.kms': 'KMS',
  'aws.iam-permissions': 'IAM permissions',
  'worker.audit-sink': 'audit sink',
  'worker.audit-key': 'audit key',
  'worker.webhook-controllers': 'webhook controllers',
  'worker.xks-proxies': 'XKS proxy credentials',
  'worker.gates': 'gate sources',
  'worker.notifications': 'notification destinations',
  'worker.kms-budget': 'KMS budget',
  'worker.workflow-bundle': 'workflow bundle',
} as const;

export type CheckName = keyof typeof CHECKS;

export const SECTION_TITLES = {
  temporal: 'Temporal',
  aws: 'AWS',
  worker: 'worker configuration',
} as const;

export type Section = keyof typeof SECTION_TITLES;

export interface CheckResult {
  readonly section: Section;
  readonly name: CheckName;
  readonly title: string;
  readonly status: CheckStatus;
  /** False for `fail` and `skip`. */
  readonly ok: boolean;
  readonly detail: string;
  /** What to do: the fix of a failure or a warning; for `info`, how to check it yourself. */
  readonly fix: string | null;
}

export function result(
  name: CheckName,
  status: CheckStatus,
  detail: string,
  fix: string | null = null,
): CheckResult {
  const section = name.slice(0, name.indexOf('.')) as Section;
  return {
    section,
    name,
    title: CHECKS[name],
    status,
    ok: status !== 'fail' && status !== 'skip',
    detail,
    fix,
  };
}

/** What the checks run with. */
export interface DoctorSettings {
  readonly env: NodeJS.ProcessEnv;
  /** The time limit of each check. */
  readonly timeoutMs: number;
  readonly taskQueue: string;
  /** The AWS Region, if one is configured. */
  readonly region: string | undefined;
  /** Temporal overrides (`--address`, `--namespace`, `--profile`). */
  readonly address?: string | undefined;
  readonly namespace?: string | undefined;
  readonly profile?: string | undefined;
}

export class CheckTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${formatMs(ms)}`);
    this.name = 'CheckTimeoutError';
  }
}

/**
 * `work` with a time limit: rejects with `CheckTimeoutError` when it takes longer. What it
 * resolves to after that is handed to `late` (e.g. to close a connection that came too late).
 */
export async function bounded<T>(ms: number, work: Promise<T>, late?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new CheckTimeoutError(ms));
    }, ms);
  });
  work.then(
    (value) => {
      if (timedOut) late?.(value);
    },
    () => undefined,
  );
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error's message (all of them, for an AggregateError). */
export function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map((e) => messageOf(e)).join('; ');
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A word of a shell command: quoted unless it is plainly safe as it is. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
