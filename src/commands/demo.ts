/**
 * `keystore-maint demo` (`npm run demo`): the main job on embedded defaults, with no
 * configuration at all. It starts a Temporal dev server (with its Web UI), the KMS simulator
 * seeded with one CloudHSM and one external key store, a worker, and runs one full maintenance
 * with live progress, then prints the run's audit trail. Everything it started is stopped at the
 * end (or kept running with `--keep`, to explore in the UI).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Command } from 'commander';
import { exportAuditTrail, loadAuditKey } from '../audit';
import { createKmsClient } from '../kms/client';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalStack } from '../local-stack';
import { exitCodeFor } from './context';
import { untilSignal } from './dev-server';
import { describeResult, followRun } from './follow';
import { parseDurationText } from './parse';
import { terminalText } from './terminal-text';

interface DemoOptions {
  keep?: boolean;
  window: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run one full maintenance on a local dev server and KMS simulator, with live progress')
    .option('--keep', 'keep the dev server, simulator and worker running afterwards (Ctrl-C to stop)')
    .option('--window <duration>', 'length of the demo maintenance window', parseDurationText, '10s')
    .addHelpText('after', '\nExamples:\n  $ npm run demo\n  $ keystore-maint demo --keep --window 1m\n')
    .action(async (opts: DemoOptions) => {
      process.exitCode = await runDemo(opts);
    });
}

async function runDemo(opts: DemoOptions): Promise<number> {
  // Keep the worker's own logging to warnings: the demo's output is the run's progress.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
  const say = (line: string) => console.log(line);
  say('Starting the Temporal dev server, the KMS simulator and a worker...');
  const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-demo-'));
  const auditFile = join(dir, 'audit.jsonl');
  // The trail is sealed like a production one: with an audit key of its own (docs/audit.md).
  const keyFile = join(dir, 'audit_key');
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const stack = await startLocalStack({
    devServer: { log: say },
    auditFile,
    auditKey: loadAuditKey(keyFile),
  });
  try {
    const { server, sim, control, client } = stack;
    say(`  Temporal ${server.address} (${server.source}), Web UI ${server.uiUrl ?? '(none)'}`);
    const hsm = await control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'demo-cloudhsm',
      ConnectionState: 'CONNECTED',
    });
    const xks = await control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreName: 'demo-external',
      ConnectionState: 'CONNECTED',
    });
    const kms = createKmsClient({ region: LOCAL_REGION, endpoint: sim.url, credentials: LOCAL_CREDENTIALS });
    const canary = await kms.send(
      new CreateKeyCommand({
        Origin: 'AWS_CLOUDHSM',
        CustomKeyStoreId: hsm.CustomKeyStoreId,
        Description: 'keystore-maint demo canary key',
      }),
    );
    kms.destroy();
    say(`  KMS simulator ${sim.url}`);
    say(
      `    ${hsm.CustomKeyStoreId} demo-cloudhsm (AWS_CLOUDHSM, CONNECTED), canary key ${canary.KeyMetadata?.KeyId}`,
    );
    say(`    ${xks.CustomKeyStoreId} demo-external (EXTERNAL_KEY_STORE, CONNECTED)`);
    say(`  worker on task queue ${stack.taskQueue}; audit trail ${auditFile}`);

    const started = await client.start({
      customKeyStoreId: hsm.CustomKeyStoreId,
      window: { duration: opts.window },
      reason: 'demo: patch the CloudHSM cluster',
      requestedBy: 'keystore-maint demo',
      ticket: 'DEMO-1',
      canaryKeyId: canary.KeyMetadata?.KeyId,
      pollInterval: '500ms',
      // The simulator's fast profile lags 500 ms; confirm across a little more than that.
      confirmSettle: '2s',
    });
    say('');
    say(`Maintenance ${started.workflowId} started (window ${opts.window}).`);
    if (server.uiUrl)
      say(`Follow it in the Web UI: ${server.uiUrl}/namespaces/${server.namespace}/workflows`);
    const result = await followRun(client, started.workflowId, { intervalMs: 500 });
    say(describeResult(result));

    const history = await client.temporal.workflow.getHandle(started.workflowId).fetchHistory();
    const events = await stack.auditSink.readWorkflow(started.workflowId);
    say('');
    say(
      terminalText(
        exportAuditTrail(events, {
          format: 'markdown',
          workflowId: started.workflowId,
          temporalHistoryAvailable: true,
          temporalHistoryEvents: history.events?.length ?? 0,
          source: auditFile,
        }),
        { maxLength: Infinity },
      ),
    );

    say(`Check the sealed trail: keystore-maint audit verify --file ${auditFile} --key-file ${keyFile}`);

    if (opts.keep) {
      say('Everything keeps running. Explore the run in the Web UI; press Ctrl-C to stop.');
      say(
        `  export TEMPORAL_ADDRESS=${server.address} AWS_ENDPOINT_URL_KMS=${sim.url} AWS_REGION=${LOCAL_REGION}`,
      );
      await untilSignal();
    }
    return exitCodeFor(result);
  } finally {
    await stack.stop();
  }
}
