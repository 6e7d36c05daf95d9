/**
 * Finding the `temporal` CLI, whose `server start-dev` is the real Temporal server that tests,
 * the demo and local rehearsals run against. Sources, in order:
 *
 * 1. `TEMPORAL_CLI_PATH` — an operator's explicit choice always wins;
 * 2. `temporal` on `PATH` — an installed CLI;
 * 3. `<project>/.tools/temporal` — the git-ignored cache filled by source 4;
 * 4. `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into that cache, when Go is
 *    installed (v1.5.1 is the newest release whose go.mod has no `replace` directive, which
 *    `go install pkg@version` refuses);
 * 5. the Temporal SDK's own download of a dev server, which needs internet access.
 *
 * Sources 1–4 yield a path; source 5 is only named here and is used by the dev-server starter.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../util/project-root';

const execFileAsync = promisify(execFile);

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go-install' | 'sdk-download';

export type TemporalCli =
  | { readonly source: Exclude<TemporalCliSource, 'sdk-download'>; readonly path: string }
  | { readonly source: 'sdk-download' };

export interface SourceAttempt {
  readonly source: TemporalCliSource;
  readonly reason: string;
}

/** Thrown when no source yields a usable binary; the message lists every source and the fixes. */
export class TemporalCliNotFoundError extends Error {
  constructor(readonly attempts: readonly SourceAttempt[]) {
    super(
      [
        'No Temporal CLI could be found or built. Sources tried:',
        ...attempts.map((a) => `  - ${a.source}: ${a.reason}`),
        'Fix one of:',
        '  1. install the Temporal CLI (https://docs.temporal.io/cli) so that `temporal` is on PATH;',
        '  2. set TEMPORAL_CLI_PATH to an existing `temporal` binary;',
        `  3. install Go >= 1.25 so that keystore-maint can build it (go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}).`,
      ].join('\n'),
    );
    this.name = 'TemporalCliNotFoundError';
  }
}

export interface FindTemporalCliOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Directory that caches the built binary; default `<project>/.tools`. */
  readonly cacheDir?: string;
  /** Allow `go install` when no binary exists (default true). */
  readonly allowBuild?: boolean;
  /** Allow the SDK's download as the last resort (default true). */
  readonly allowSdkDownload?: boolean;
  /** Progress messages (the Go build takes minutes on a fresh machine). */
  readonly log?: (message: string) => void;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export async function findTemporalCli(options: FindTemporalCliOptions = {}): Promise<TemporalCli> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? join(projectRoot(), '.tools');
  const log = options.log ?? (() => undefined);
  const attempts: SourceAttempt[] = [];

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return { source: 'TEMPORAL_CLI_PATH', path: explicit };
    // An explicit setting that is wrong is an error, not something to silently work around.
    throw new TemporalCliNotFoundError([
      { source: 'TEMPORAL_CLI_PATH', reason: `${explicit} does not exist or is not executable` },
    ]);
  }
  attempts.push({ source: 'TEMPORAL_CLI_PATH', reason: 'not set' });

  const fromPath = onPath('temporal', env);
  if (fromPath) return { source: 'PATH', path: fromPath };
  attempts.push({ source: 'PATH', reason: 'no executable `temporal` on PATH' });

  const cached = join(cacheDir, 'temporal');
  if (isExecutable(cached)) return { source: 'cache', path: cached };
  attempts.push({ source: 'cache', reason: `${cached} does not exist` });

  if (options.allowBuild !== false) {
    const go = onPath('go', env);
    if (!go) {
      attempts.push({ source: 'go-install', reason: 'Go is not installed (no `go` on PATH)' });
    } else {
      mkdirSync(cacheDir, { recursive: true });
      log(
        `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${cacheDir} (a few minutes, once)...`,
      );
      try {
        await execFileAsync(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
          env: { ...env, GOBIN: cacheDir, GOFLAGS: `${env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
          maxBuffer: 64 * 1024 * 1024,
        });
        if (isExecutable(cached)) return { source: 'go-install', path: cached };
        attempts.push({ source: 'go-install', reason: `go install succeeded but ${cached} is missing` });
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? String(err);
        const tail = stderr.trim().split('\n').slice(-5).join(' | ');
        attempts.push({ source: 'go-install', reason: `go install failed: ${tail}` });
      }
    }
  } else {
    attempts.push({ source: 'go-install', reason: 'building was not allowed' });
  }

  if (options.allowSdkDownload !== false) {
    log(`No local Temporal CLI (${attempts.map((a) => `${a.source}: ${a.reason}`).join('; ')}).`);
    log('Falling back to the Temporal SDK download of the dev server (needs internet access).');
    return { source: 'sdk-download' };
  }
  attempts.push({ source: 'sdk-download', reason: 'not allowed here' });
  throw new TemporalCliNotFoundError(attempts);
}

/** `temporal --version`, first line, e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
export async function temporalCliVersion(path: string): Promise<string> {
  const { stdout } = await execFileAsync(path, ['--version']);
  return stdout.trim().split('\n')[0] ?? '';
}
