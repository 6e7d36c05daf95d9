/**
 * The export of a synthetic full run, shaped like the maintenance workflow's events: the
 * Markdown timeline must show the right phases, durations, actors and KMS request ids.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exportAuditTrail, formatDuration } from '../../src/audit/export';
import { StdoutAuditSink } from '../../src/audit/stdout-sink';
import {
  AUDIT_SCHEMA_VERSION,
  RUNNER_ACTOR,
  type AuditEvent,
  type ChainedAuditEvent,
} from '../../src/domain/audit-event';
import { STORE_A, workflowIdOf } from './support/events';

const WF = workflowIdOf(STORE_A);
const RUN = '0195a1b2-run-1';
const T0 = Date.parse('2025-03-02T01:59:58.000Z');

type Step = [
  offsetMs: number,
  phase: string,
  action: string,
  detail?: Record<string, unknown>,
  extra?: Partial<AuditEvent>,
];

const steps: Step[] = [
  [
    0,
    'PREFLIGHT',
    'run.requested',
    { region: 'us-east-1', reason: 'HSM firmware upgrade', ticket: 'CHG-4711' },
    { actor: 'alice@example.com' },
  ],
  [10, 'PREFLIGHT', 'phase.entered', { message: 'checking the store' }],
  [
    900,
    'PREFLIGHT',
    'kms.describe',
    { kms: { operation: 'DescribeCustomKeyStores', requestId: 'req-describe-1', result: 'CONNECTED' } },
    { outcome: 'ok' },
  ],
  [1000, 'PREFLIGHT', 'preflight.passed', { state: 'CONNECTED' }, { outcome: 'ok' }],
  [2000, 'DRAINING', 'phase.entered', { message: 'draining traffic' }],
  [5000, 'DRAINING', 'traffic.drained', { provider: 'alias' }, { outcome: 'ok' }],
  [5000, 'DISCONNECTING', 'phase.entered', {}],
  [
    5400,
    'DISCONNECTING',
    'kms.disconnect',
    { kms: { operation: 'DisconnectCustomKeyStore', requestId: 'req-disc-1' } },
    { outcome: 'ok' },
  ],
  [5500, 'WAITING_DISCONNECTED', 'phase.entered', {}],
  [
    47_500,
    'WAITING_DISCONNECTED',
    'wait.completed',
    { until: 'DISCONNECTED', firstRequestId: 'req-poll-1', lastRequestId: 'req-poll-9' },
    { outcome: 'ok' },
  ],
  [47_500, 'IN_WINDOW', 'phase.entered', {}],
  [
    3_600_000,
    'IN_WINDOW',
    'message.extendWindow',
    { duration: '1h' },
    { actor: 'bob@example.com', outcome: 'ok' },
  ],
  [7_247_500, 'RECONNECTING', 'phase.entered', {}],
  [
    7_248_000,
    'RECONNECTING',
    'kms.connect',
    { kms: { operation: 'ConnectCustomKeyStore', requestId: 'req-conn-1' } },
    { outcome: 'ok' },
  ],
  [7_248_100, 'WAITING_CONNECTED', 'phase.entered', {}],
  [
    7_300_000,
    'WAITING_CONNECTED',
    'wait.failed',
    { connectionErrorCode: 'NETWORK_ERRORS' },
    { outcome: 'failed', error: { type: 'KeyStoreConnectFailed', message: 'FAILED | NETWORK_ERRORS' } },
  ],
  [7_310_000, 'RECONNECTING', 'phase.entered', { attempt: 2 }],
  [
    7_311_000,
    'RECONNECTING',
    'kms.connect',
    { kms: { operation: 'ConnectCustomKeyStore', requestId: 'req-conn-2' } },
    { outcome: 'ok' },
  ],
  [7_311_100, 'WAITING_CONNECTED', 'phase.entered', {}],
  [
    7_400_000,
    'WAITING_CONNECTED',
    'wait.completed',
    { firstRequestId: 'req-poll-20', lastRequestId: 'req-poll-29' },
    { outcome: 'ok' },
  ],
  [7_400_000, 'VERIFYING', 'phase.entered', {}],
  [
    7_401_500,
    'VERIFYING',
    'canary.passed',
    { kms: { operation: 'GenerateDataKey+Decrypt', requestId: 'req-canary-1' } },
    { outcome: 'ok' },
  ],
  [7_402_000, 'RESTORING', 'phase.entered', {}],
  [7_404_000, 'RESTORING', 'traffic.restored', { restored: 3 }, { outcome: 'ok' }],
  [7_404_000, 'COMPLETED', 'run.ended', { message: 'done' }],
];

const events: AuditEvent[] = steps.map(([offset, phase, action, detail = {}, extra = {}], i) => ({
  schemaVersion: AUDIT_SCHEMA_VERSION,
  workflowId: WF,
  runId: RUN,
  seq: i + 1,
  at: new Date(T0 + offset).toISOString(),
  phase,
  action,
  actor: RUNNER_ACTOR,
  detail: { customKeyStoreId: STORE_A, ...detail },
  outcome: 'info',
  ...extra,
}));

/** Chains the events the way a sink does (through the stdout sink, into memory). */
async function chained(list: readonly AuditEvent[]): Promise<ChainedAuditEvent[]> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const sink = new StdoutAuditSink(out);
  await sink.append(list);
  await sink.close();
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ChainedAuditEvent);
}

/** The rows of the Markdown table that follows `heading`, as arrays of cells. */
function tableAfter(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((c) => c.trim()),
    );
  }
  return rows.slice(2); // header and separator
}

describe('export', () => {
  it('renders the timeline of a full run with phases, durations, actors, request ids and outcomes', async () => {
    const markdown = exportAuditTrail(await chained(events), {
      format: 'markdown',
      temporalHistoryAvailable: true,
      temporalHistoryEvents: 212,
      source: 'file audit/keystore-maint.jsonl',
    });
    const timeline = tableAfter(markdown, '### Timeline');
    expect(timeline).toEqual([
      [
        'PREFLIGHT',
        '2025-03-02T01:59:58.000Z',
        '2025-03-02T02:00:00.000Z',
        '2.0 s',
        'alice@example.com, keystore-maint',
        'req-describe-1',
        'ok',
      ],
      [
        'DRAINING',
        '2025-03-02T02:00:00.000Z',
        '2025-03-02T02:00:03.000Z',
        '3.0 s',
        'keystore-maint',
        '',
        'ok',
      ],
      [
        'DISCONNECTING',
        '2025-03-02T02:00:03.000Z',
        '2025-03-02T02:00:03.500Z',
        '500 ms',
        'keystore-maint',
        'req-disc-1',
        'ok',
      ],
      [
        'WAITING_DISCONNECTED',
        '2025-03-02T02:00:03.500Z',
        '2025-03-02T02:00:45.500Z',
        '42 s',
        'keystore-maint',
        'req-poll-1, req-poll-9',
        'ok',
      ],
      [
        'IN_WINDOW',
        '2025-03-02T02:00:45.500Z',
        '2025-03-02T04:00:45.500Z',
        '2 h 0 min',
        'keystore-maint, bob@example.com',
        '',
        'ok',
      ],
      [
        'RECONNECTING',
        '2025-03-02T04:00:45.500Z',
        '2025-03-02T04:00:46.100Z',
        '600 ms',
        'keystore-maint',
        'req-conn-1',
        'ok',
      ],
      [
        'WAITING_CONNECTED',
        '2025-03-02T04:00:46.100Z',
        '2025-03-02T04:01:48.000Z',
        '1 min 2 s',
        'keystore-maint',
        '',
        'failed',
      ],
      [
        'RECONNECTING',
        '2025-03-02T04:01:48.000Z',
        '2025-03-02T04:01:49.100Z',
        '1.1 s',
        'keystore-maint',
        'req-conn-2',
        'ok',
      ],
      [
        'WAITING_CONNECTED',
        '2025-03-02T04:01:49.100Z',
        '2025-03-02T04:03:18.000Z',
        '1 min 29 s',
        'keystore-maint',
        'req-poll-20, req-poll-29',
        'ok',
      ],
      [
        'VERIFYING',
        '2025-03-02T04:03:18.000Z',
        '2025-03-02T04:03:20.000Z',
        '2.0 s',
        'keystore-maint',
        'req-canary-1',
        'ok',
      ],
      [
        'RESTORING',
        '2025-03-02T04:03:20.000Z',
        '2025-03-02T04:03:22.000Z',
        '2.0 s',
        'keystore-maint',
        '',
        'ok',
      ],
      [
        'COMPLETED',
        '2025-03-02T04:03:22.000Z',
        '2025-03-02T04:03:22.000Z',
        '0 ms',
        'keystore-maint',
        '',
        'COMPLETED',
      ],
    ]);
  });

  it('puts the store, run, requester, reason, ticket, outcome and Temporal history in the header', async () => {
    const markdown = exportAuditTrail(await chained(events), {
      format: 'markdown',
      temporalHistoryAvailable: true,
      temporalHistoryEvents: 212,
    });
    expect(
      markdown.startsWith(`# Audit trail: ${WF}\n\n> **Temporal history: available (212 events)**\n`),
    ).toBe(true);
    const header = Object.fromEntries(
      tableAfter(markdown, '> **Temporal history: available (212 events)**').map((r): [string, string] => [
        r[0] ?? '',
        r[1] ?? '',
      ]),
    );
    expect(header).toMatchObject({
      Store: `${STORE_A} (us-east-1)`,
      'Workflow id': WF,
      'Run ids': RUN,
      'Requested by': 'alice@example.com',
      Reason: 'HSM firmware upgrade',
      Ticket: 'CHG-4711',
      Outcome: 'COMPLETED',
      Events: String(events.length),
      'Hash chain': 'intact',
    });
  });

  it('lists every event, escaping what would break the table', async () => {
    const markdown = exportAuditTrail(await chained(events), { format: 'markdown' });
    const rows = tableAfter(markdown, '### Events');
    expect(rows).toHaveLength(events.length);
    expect(rows[15]?.slice(0, 6)).toEqual([
      '16',
      '2025-03-02T04:01:38.000Z',
      'WAITING_CONNECTED',
      'wait.failed',
      'keystore-maint',
      'failed',
    ]);
    expect(rows[15]?.[7]).toBe('KeyStoreConnectFailed: FAILED \\| NETWORK_ERRORS');
  });

  it('says prominently when Temporal no longer has the history', () => {
    const markdown = exportAuditTrail(events, { format: 'markdown', temporalHistoryAvailable: false });
    expect(markdown).toContain(
      '> **Temporal history: no longer available (removed by namespace retention); this trail comes from the audit sink only**',
    );
    // Events without chain fields (e.g. from a workflow's status) have no chain to report on.
    expect(markdown).not.toContain('Hash chain');
    expect(
      exportAuditTrail(events, {
        format: 'markdown',
        temporalHistoryAvailable: false,
        temporalNote: 'namespace deleted',
      }),
    ).toContain('Temporal history: no longer available (namespace deleted)');
    expect(exportAuditTrail(events, { format: 'markdown' })).toContain('Temporal history: not consulted');
  });

  it('reports a broken chain in the header', async () => {
    const list = await chained(events);
    list[4] = { ...list[4]!, actor: 'mallory' };
    const markdown = exportAuditTrail(list, { format: 'markdown' });
    expect(markdown).toContain(`| Hash chain | BROKEN: run ${RUN} seq 5: hash mismatch`);
  });

  it('renders several runs of one workflow, each with its own timeline', async () => {
    const second = events
      .slice(0, 6)
      .map((e) => ({ ...e, runId: 'run-2', at: new Date(Date.parse(e.at) + 86_400_000).toISOString() }));
    const markdown = exportAuditTrail([...(await chained(second)), ...(await chained(events))], {
      format: 'markdown',
    });
    expect(markdown).toContain(`## Run ${RUN}`);
    expect(markdown).toContain('## Run run-2');
    expect(markdown.indexOf(`## Run ${RUN}`)).toBeLessThan(markdown.indexOf('## Run run-2'));
    const runs = tableAfter(markdown, '## Runs');
    expect(runs.map((r) => [r[0], r[5]])).toEqual([
      [RUN, 'COMPLETED'],
      ['run-2', 'not ended in this trail (last phase: DRAINING)'],
    ]);
  });

  it('renders JSON with the same timeline and the events', async () => {
    const json = JSON.parse(
      exportAuditTrail(await chained(events), { format: 'json', temporalHistoryAvailable: false }),
    ) as {
      workflowId: string;
      customKeyStoreId: string;
      temporalHistory: { available: boolean; statement: string };
      chain: { ok: boolean };
      runs: {
        runId: string;
        outcome: string;
        requestedBy: string;
        timeline: { phase: string; durationMs: number; kmsRequestIds: string[] }[];
        events: unknown[];
      }[];
    };
    expect(json).toMatchObject({ workflowId: WF, customKeyStoreId: STORE_A, chain: { ok: true } });
    expect(json.temporalHistory.available).toBe(false);
    expect(json.runs).toHaveLength(1);
    expect(json.runs[0]).toMatchObject({
      runId: RUN,
      outcome: 'COMPLETED',
      requestedBy: 'alice@example.com',
    });
    expect(json.runs[0]!.timeline.find((s) => s.phase === 'IN_WINDOW')).toMatchObject({
      durationMs: 7_200_000,
    });
    expect(json.runs[0]!.events).toHaveLength(events.length);
  });

  it("renders a store's trail across workflow ids (e.g. two Regions' ids for one store)", async () => {
    const other = events.slice(0, 3).map((e) => ({ ...e, workflowId: 'fleet/2025-03', runId: 'f1' }));
    const markdown = exportAuditTrail([...(await chained(events)), ...(await chained(other))], {
      format: 'markdown',
      workflowId: `${WF}, fleet/2025-03`,
    });
    expect(markdown.startsWith(`# Audit trail: store ${STORE_A}\n`)).toBe(true);
    expect(markdown).toContain(`| Workflow ids | ${WF}, fleet/2025-03 |`);
    expect(markdown).toContain(`## Run ${WF} ${RUN}`);
    expect(markdown).toContain('## Run fleet/2025-03 f1');
  });

  it('takes a note that is a whole Temporal history line as it is', () => {
    const markdown = exportAuditTrail(events, {
      format: 'markdown',
      temporalNote:
        'Temporal history: not checked (connection refused); this trail comes from the audit sink only.',
    });
    expect(markdown).toContain(
      '> **Temporal history: not checked (connection refused); this trail comes from the audit sink only**',
    );
  });

  it('names the workflow when there are no events', () => {
    expect(exportAuditTrail([], { format: 'markdown', workflowId: WF })).toContain(
      'No audit events were found',
    );
  });

  it.each([
    [850, '850 ms'],
    [4_200, '4.2 s'],
    [42_000, '42 s'],
    [125_000, '2 min 5 s'],
    [7_260_000, '2 h 1 min'],
    [93_600_000, '1 d 2 h'],
  ])('formats %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
