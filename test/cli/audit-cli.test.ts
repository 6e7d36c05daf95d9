/**
 * `keystore-maint audit verify|export` on a trail written by real runs through the JSON Lines
 * sink: intact chains verify, an edit is located, the export renders the timeline and says
 * whether Temporal still has the history.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlAuditSink } from '../../src/audit';
import { newTestAuditKey, type TestAuditKey } from '../support/audit-key';
import { ensureBuilt, runCli } from '../support/built-cli';
import {
  connectedStore,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
let auditFile: string;
let auditKey: TestAuditKey;
let cliEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  ensureBuilt();
  auditFile = join(mkdtempSync(join(tmpdir(), 'audit-cli-')), 'trail.jsonl');
  auditKey = newTestAuditKey();
  env = await startMaintenanceEnv({}, { auditSink: new JsonlAuditSink(auditFile, { key: auditKey.key }) });
  cliEnv = { TEMPORAL_ADDRESS: env.temporal.address, TEMPORAL_NAMESPACE: env.temporal.namespace };
});
afterAll(async () => env?.close());

describe('keystore-maint audit', () => {
  it('verifies, exports and locates tampering in a trail written by real runs', async () => {
    const [a, b] = [await connectedStore(env.control), await connectedStore(env.control)];
    const results = await Promise.all([
      outcomeOf(await env.start({ customKeyStoreId: a, ticket: 'CHG-1' })),
      outcomeOf(await env.start({ customKeyStoreId: b })),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['COMPLETED', 'COMPLETED']);

    // A sealed trail needs its key; without it verify says so (usage error) instead of guessing.
    const keyless = await runCli(['audit', 'verify', '--file', auditFile], cliEnv);
    expect(keyless.code).toBe(2);
    expect(keyless.stderr).toMatch(/is sealed with audit key k-[0-9a-f]{16}; give that key/);
    const verified = await runCli(
      ['audit', 'verify', '--file', auditFile, '--key-file', auditKey.file],
      cliEnv,
    );
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(
      /OK: \d+ event\(s\) in 2 run\(s\), every chain intact\. Every record sealed with the audit key\. Last checkpoint: \d+ record\(s\)/,
    );

    const md = await runCli(['audit', 'export', a, '--file', auditFile], cliEnv);
    expect(md.code).toBe(0);
    expect(md.stdout).toContain(`keystore-maint/us-east-1/${a}`);
    expect(md.stdout).toMatch(/Temporal history: available/i);
    expect(md.stdout).toMatch(
      /\| phase \| start \| end \| duration \| actor \| KMS request ids \| outcome \|/i,
    );
    for (const phase of ['PREFLIGHT', 'DISCONNECTING', 'IN_WINDOW', 'WAITING_CONNECTED', 'COMPLETED']) {
      expect(md.stdout).toContain(`| ${phase} |`);
    }
    const disconnect = results[0]?.events.find((e) => e.action === 'kms.disconnect');
    expect(md.stdout).toContain(String(disconnect?.detail.kms?.requestId));

    const json = await runCli(
      ['audit', 'export', `keystore-maint/us-east-1/${b}`, '--file', auditFile, '--format', 'json'],
      cliEnv,
    );
    expect(json.code).toBe(0);
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain(b);

    // Edit one field of one event: verify must fail and name the line.
    const lines = readFileSync(auditFile, 'utf8').split('\n');
    const index = lines.findIndex((l) => l.includes('"action":"kms.disconnect"') && l.includes(a));
    lines[index] = (lines[index] ?? '').replace('"actor":"keystore-maint"', '"actor":"mallory"');
    writeFileSync(auditFile, lines.join('\n'));
    const broken = await runCli(['audit', 'verify', '--file', auditFile], {
      ...cliEnv,
      KEYSTORE_MAINT_AUDIT_KEY_FILE: auditKey.file,
    });
    expect(broken.code).toBe(6);
    expect(broken.stdout).toContain(`line ${index + 1}`);
    expect(broken.stdout).toMatch(/its seal does not match .*\[edited\]/i);
  });

  it('says clearly when Temporal no longer has the history', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'audit-retained-')), 'trail.jsonl');
    const sink = new JsonlAuditSink(file);
    const workflowId = 'keystore-maint/us-east-1/cks-00000000000000abc';
    await sink.append([
      {
        schemaVersion: 1,
        workflowId,
        runId: 'run-long-gone',
        seq: 1,
        at: '2025-01-05T02:00:00.000Z',
        phase: 'PREFLIGHT',
        action: 'run.requested',
        actor: 'alice',
        detail: { customKeyStoreId: 'cks-00000000000000abc', reason: 'old window' },
        outcome: 'ok',
      },
    ]);
    await sink.close();
    const md = await runCli(['audit', 'export', workflowId, '--file', file], cliEnv);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/no longer available/i);
  });

  it('refuses a missing trail with exit 2', async () => {
    const run = await runCli(['audit', 'verify', '--file', join(tmpdir(), 'no-such-trail.jsonl')], cliEnv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no-such-trail\.jsonl/);
  });
});
