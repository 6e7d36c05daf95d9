/**
 * The commands the documentation shows, checked as a reader would use them:
 * - every `temporal workflow …` / `temporal schedule …` command of docs/contract.md and
 *   docs/starting-runs.md runs, in the order shown, with the Temporal CLI 1.5.1 against the dev
 *   server and a worker (the example store id swapped for a simulator store's): each is accepted
 *   by the CLI, and each update is either applied or refused with the project's `UpdateRejected`;
 * - every `keystore-maint …` command in the README and docs/ parses: known command, known
 *   options with valid values, required arguments present (the command's action is not run).
 * Lines with placeholders (`…`, `<…>`, `[…]`, `$VAR`) are sketches, not commands, and skipped.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { projectRoot } from '../../src/util/project-root';
import { groundTruth } from '../support/ground-truth';
import { connectedStore, startMaintenanceEnv, type MaintenanceEnv } from '../support/maintenance-env';

const root = projectRoot();
const EXAMPLE_STORE = 'cks-1234567890abcdef0';

/** Shell commands in a document's fenced sh/bash/console blocks: continuations joined, comments cut. */
export function documentedCommands(markdown: string): string[] {
  const commands: string[] = [];
  // Every fence, whatever its language, so that openings and closings pair up.
  for (const block of markdown.matchAll(/```([\w-]*)\n([\s\S]*?)```/g)) {
    if (!['', 'sh', 'bash', 'console', 'shell'].includes(block[1] ?? '')) continue;
    const text = (block[2] ?? '').replace(/\\\n\s*/g, ' ');
    for (const raw of text.split('\n')) {
      const line = raw
        .trim()
        .replace(/^\$ /, '')
        // A trailing comment: at least two spaces, then #.
        .replace(/\s{2,}#.*$/, '')
        .trim();
      if (line) commands.push(line);
    }
  }
  return commands;
}

const isSketch = (command: string) => /…|<[a-z][^>]*>|\s\[--|\$[A-Z{(]|\|/.test(command);

/** A command's words, split exactly as bash would (quotes, escapes), without running anything. */
function words(command: string): string[] {
  const out = execFileSync('bash', ['-c', `set -f; set -- ${command}; printf '%s\\0' "$@"`], {
    encoding: 'utf8',
  });
  return out.split('\0').slice(0, -1);
}

const docs = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

describe('keystore-maint commands in the docs', () => {
  const commands = docs.flatMap((file) =>
    documentedCommands(readFileSync(join(root, file), 'utf8'))
      .filter((c) => /^(npx )?keystore-maint /.test(c) && !isSketch(c))
      .map((command) => ({ file, command })),
  );

  it('finds the documented commands', () => {
    // A guard against an extractor that silently finds nothing.
    expect(commands.length).toBeGreaterThanOrEqual(20);
  });

  it.each(commands)('$file: $command', async ({ command }) => {
    const argv = words(command.replace(/^npx /, ''));
    const program = buildProgram();
    const ran: string[] = [];
    program.hook('preAction', (_program, action) => {
      ran.push(action.name());
      throw new ParsedOnly();
    });
    const errors: string[] = [];
    program.configureOutput({ writeErr: (text) => errors.push(text), writeOut: () => undefined });
    for (const sub of program.commands) {
      sub.configureOutput({ writeErr: (text) => errors.push(text), writeOut: () => undefined });
    }
    const outcome = await program.parseAsync(['node', ...argv]).catch((err: unknown) => err);
    if (outcome instanceof CommanderError) throw new Error(`${command}\n${errors.join('')}`);
    expect(outcome, errors.join('')).toBeInstanceOf(ParsedOnly);
    expect(ran.length).toBe(1);
  });
});

class ParsedOnly extends Error {}

function runTemporal(
  cli: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // `workflow result` waits for a documented run with the documented defaults (15 s polls, a
    // 30 s confirmation): minutes, not seconds.
    const child = spawn(cli, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.concurrent('temporal commands in docs/contract.md and docs/starting-runs.md', () => {
  let env: MaintenanceEnv;
  let temporal: string;
  beforeAll(async () => {
    const cli = await findTemporalCli({ allowSdkDownload: false });
    if (!('path' in cli)) throw new Error('no temporal CLI: npm run temporal:ensure');
    temporal = cli.path;
    env = await startMaintenanceEnv();
  });
  afterAll(async () => env?.close());

  for (const file of ['docs/starting-runs.md', 'docs/contract.md']) {
    it(`${file}: each runs, in order, against a real run`, async () => {
      const store = await connectedStore(env.control);
      const commands = documentedCommands(readFileSync(join(root, file), 'utf8')).filter(
        (c) => /^temporal (workflow|schedule) /.test(c) && !isSketch(c),
      );
      expect(commands.length).toBeGreaterThanOrEqual(6);
      const schedules: string[] = [];
      const started: string[] = [];
      try {
        for (const documented of commands) {
          const command = documented
            .replaceAll(EXAMPLE_STORE, store)
            .replace('--task-queue keystore-maintenance', `--task-queue ${env.taskQueue}`);
          const argv = words(command).slice(1);
          // Not spawnSync: the worker runs in this process and must go on working meanwhile.
          const result = await runTemporal(temporal, argv, {
            ...process.env,
            TEMPORAL_ADDRESS: env.temporal.address,
            TEMPORAL_NAMESPACE: env.temporal.namespace,
          });
          const output = `${result.stdout}${result.stderr}`;
          const context = `${documented}\n→ exit ${result.status}\n${output}`;
          // The CLI understood the command: no usage error of any kind.
          expect(output, context).not.toMatch(
            /unknown (flag|command|shorthand)|required flag|invalid argument|accepts \d+ arg|Usage:/i,
          );
          if (argv[1] === 'update') {
            // Applied, or refused by the run with the project's typed failure.
            if (result.status !== 0) expect(output, context).toMatch(/UpdateRejected/);
          } else {
            expect(result.status, context).toBe(0);
          }
          if (argv[0] === 'schedule' && argv[1] === 'create') {
            schedules.push(argv[argv.indexOf('--schedule-id') + 1] ?? '');
          }
          if (argv[1] === 'start') started.push(argv[argv.indexOf('--workflow-id') + 1] ?? '');
          if (argv[1] === 'query') expect(output, context).toMatch(/"?phase"?/);
        }
      } finally {
        for (const id of schedules) await env.temporal.client.schedule.getHandle(id).delete();
        // Runs the doc started for stores that are not the simulator's (a fleet in eu-west-1).
        for (const id of started.filter((w) => !w.includes(store))) {
          await env.temporal.client.workflow
            .getHandle(id)
            .terminate('documentation check done')
            .catch(() => undefined);
        }
      }
      // The documented run really ran against the store, and left it connected.
      const canonical = env.temporal.client.workflow.getHandle(`keystore-maint/us-east-1/${store}`);
      const end: unknown = await canonical.result().catch((err: unknown) => err);
      expect(['COMPLETED', 'CANCELLED'], JSON.stringify(end)).toContain(
        (end as { outcome?: string }).outcome,
      );
      expect((await groundTruth(env.control, undefined, store, {})).state).toBe('CONNECTED');
    }, 300_000);
  }
});
