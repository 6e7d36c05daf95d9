/**
 * The published contract (schema/, docs/contract.md): the committed JSON Schema files are the ones
 * the zod schemas generate, the request examples in the docs are valid by the schema and by the
 * workflow's own validator, invalid requests fail both, and realistic results validate against
 * the result schema with a JSON Schema validator (ajv, draft 2020-12) — as a caller in another
 * language would check them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { schemaProblems } from '../../scripts/check-generated';
import { SCHEMA_COMMAND, schemaFiles } from '../../scripts/schema-files';
import type { FleetResult } from '../../src/domain/fleet';
import { FLEET_FAILURE_TYPES, validateFleetRequest } from '../../src/domain/fleet';
import { AUDIT_FAILURE_TYPES, FAILURE_TYPES } from '../../src/domain/errors';
import { validateMaintenanceRequest } from '../../src/domain/request';
import { fleetResultSchema, maintenanceResultSchema } from '../../src/domain/result-schema';
import type { MaintenanceResult, MaintenanceStatus } from '../../src/domain/status';
import {
  abortArgumentSchema,
  endWindowNowArgumentSchema,
  extendWindowArgumentSchema,
} from '../../src/domain/update-schemas';
import { projectRoot } from '../../src/util/project-root';
import { actorField, argumentObject, reasonField } from '../../workflows/update-arguments';
import { FAILURE_TYPES_WEBHOOK } from '../../activities/traffic-webhook';

const ROOT = projectRoot();
const NOW = Date.parse('2026-11-28T12:00:00Z');

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, unknown>;
}

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
for (const path of listSchemaFiles('schema')) ajv.addSchema(readJson(path), path);

function listSchemaFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listSchemaFiles(`${dir}/${entry.name}`)
      : entry.name.endsWith('.schema.json')
        ? [`${dir}/${entry.name}`]
        : [],
  );
}

function validator(ref: string): ValidateFunction {
  const validate = ajv.getSchema(ref);
  if (!validate) throw new Error(`no schema ${ref}`);
  return validate;
}

const requestSchema = () => validator('schema/maintenance-request.schema.json');
const fleetSchema = () => validator('schema/fleet-request.schema.json');

function valid(validate: ValidateFunction, value: unknown): boolean {
  const ok = validate(value);
  return ok === true;
}

function errorsOf(validate: ValidateFunction, value: unknown): string {
  validate(value);
  return ajv.errorsText(validate.errors);
}

// ---------------------------------------------------------------------------------------------
// Examples in the documentation

interface DocExamples {
  readonly requests: { readonly where: string; readonly request: Record<string, unknown> }[];
  readonly fleets: { readonly where: string; readonly request: Record<string, unknown> }[];
  readonly updates: { readonly where: string; readonly update: string; readonly argument: unknown }[];
}

const BASE_REQUEST = {
  customKeyStoreId: 'cks-1234567890abcdef0',
  window: { duration: '2h' },
  reason: 'monthly HSM patching',
  requestedBy: 'alice@example.com',
};

const UPDATE_NAMES = ['approve', 'extendWindow', 'endWindowNow', 'abort'] as const;

/**
 * The JSON a caller copies from the docs: fenced json blocks (a request, a fleet request, or a
 * fragment of one such as `{"drain": …}`), `temporal workflow start|update execute … --input '…'`
 * commands, and the Data column of the Web UI's update table.
 */
function docExamples(files: readonly string[]): DocExamples {
  const out: DocExamples = { requests: [], fleets: [], updates: [] };
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(/```json\n([\s\S]*?)```/g)) {
      const value = JSON.parse(match[1] ?? '') as Record<string, unknown>;
      const where = `${file}: ${JSON.stringify(value).slice(0, 60)}`;
      if ('customKeyStoreId' in value) out.requests.push({ where, request: value });
      else if ('request' in value && ('namePattern' in value || 'stores' in value)) {
        out.fleets.push({ where, request: value });
      } else if ('drain' in value || 'canaryKeyId' in value) {
        out.requests.push({ where, request: { ...BASE_REQUEST, ...value } });
      }
    }
    const commands = text.replace(/\\\n\s*/g, ' ').split('\n');
    for (const command of commands) {
      const input = /--input '(\{[^']*\})'/.exec(command)?.[1];
      if (!input || !/temporal (workflow|schedule) /.test(command)) continue;
      const value = JSON.parse(input) as Record<string, unknown>;
      const where = `${file}: ${command.trim().slice(0, 80)}`;
      const name = /--name (\w+)/.exec(command)?.[1];
      if (/workflow update/.test(command) && name) out.updates.push({ where, update: name, argument: value });
      else if (/--type keyStoreFleetMaintenance/.test(command)) out.fleets.push({ where, request: value });
      else out.requests.push({ where, request: value });
    }
    for (const row of text.matchAll(/^\| `(\w+)`\s*\| `(\{.*?\})`\s*\|/gm)) {
      const update = row[1] ?? '';
      let argument: unknown;
      try {
        argument = JSON.parse(row[2] ?? '');
      } catch {
        continue; // a table that names the members, e.g. {"by", "reason"}, rather than an example
      }
      if ((UPDATE_NAMES as readonly string[]).includes(update)) {
        out.updates.push({ where: `${file}: ${update} table`, update, argument });
      }
    }
  }
  return out;
}

const examples = docExamples([
  'docs/starting-runs.md',
  'docs/traffic.md',
  'docs/fleet.md',
  'docs/contract.md',
]);

describe('the committed schema files', () => {
  it(`equal what the zod schemas generate (else: ${SCHEMA_COMMAND})`, async () => {
    const expected = await schemaFiles(ROOT);
    expect(expected.size).toBe(14);
    for (const [path, content] of expected) {
      expect(readFileSync(join(ROOT, path), 'utf8'), path).toBe(content);
    }
    expect(await schemaProblems(ROOT)).toEqual([]);
  });

  it('are valid draft 2020-12 schemas without network ids, pretty-printed with a final newline', () => {
    for (const path of listSchemaFiles('schema')) {
      const text = readFileSync(join(ROOT, path), 'utf8');
      const json = JSON.parse(text) as Record<string, unknown>;
      expect(json.$schema, path).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(typeof json.title, path).toBe('string');
      expect(typeof json.description, path).toBe('string');
      expect(text, path).not.toContain('"$id"');
      expect(text.endsWith('}\n'), path).toBe(true);
      expect(ajv.validateSchema(json), path).toBe(true);
    }
  });
});

describe('maintenance requests', () => {
  it('finds the examples in the docs', () => {
    expect(examples.requests.length).toBeGreaterThanOrEqual(8);
    expect(examples.fleets.length).toBeGreaterThanOrEqual(2);
    expect(examples.updates.length).toBeGreaterThanOrEqual(8);
  });

  it('every request example in the docs is valid by the schema and by the validator', () => {
    for (const { where, request } of examples.requests) {
      expect(valid(requestSchema(), request), `${where}: ${errorsOf(requestSchema(), request)}`).toBe(true);
      expect(validateMaintenanceRequest(request, NOW).ok, where).toBe(true);
    }
  });

  const full = {
    customKeyStoreId: 'cks-1234567890abcdef0',
    region: 'us-east-1',
    window: { until: '2026-11-28T14:00:00Z' },
    maxWindow: '4h',
    reason: 'rotate the XKS proxy TLS certificate',
    requestedBy: 'alice@example.com',
    ticket: 'CHG-1234',
    approval: { required: true, timeout: 'PT4H' },
    drain: { provider: 'webhook', controller: 'payments-mesh', timeout: '5m', settle: '10s' },
    canaryKeyId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    timeouts: { disconnect: '10m', connect: '30m' },
    reconnectAttempts: 3,
    pollInterval: '15s',
    confirmSettle: '30s',
    dryRun: false,
    allowAlreadyDisconnected: false,
  };

  it('a request with every member is valid', () => {
    expect(valid(requestSchema(), full), errorsOf(requestSchema(), full)).toBe(true);
    expect(validateMaintenanceRequest(full, NOW).ok).toBe(true);
  });

  it('null counts as absent: every optional member may be null, at any depth', () => {
    const nulls = {
      ...BASE_REQUEST,
      window: { duration: '2h', until: null },
      region: null,
      maxWindow: null,
      ticket: null,
      approval: { required: false, timeout: null },
      drain: { provider: 'none', settle: null },
      canaryKeyId: null,
      timeouts: { disconnect: null, connect: null },
      reconnectAttempts: null,
      pollInterval: null,
      confirmSettle: null,
      dryRun: null,
      allowAlreadyDisconnected: null,
    };
    expect(valid(requestSchema(), nulls), errorsOf(requestSchema(), nulls)).toBe(true);
    expect(validateMaintenanceRequest(nulls, NOW).ok).toBe(true);
    for (const member of ['approval', 'drain', 'timeouts'] as const) {
      const request = { ...BASE_REQUEST, [member]: null };
      expect(valid(requestSchema(), request), member).toBe(true);
      expect(validateMaintenanceRequest(request, NOW).ok, member).toBe(true);
    }
    const webhook = {
      ...BASE_REQUEST,
      drain: {
        provider: 'webhook',
        controller: 'payments-mesh',
        url: null,
        statusUrl: null,
        secretEnv: null,
      },
    };
    expect(valid(requestSchema(), webhook), errorsOf(requestSchema(), webhook)).toBe(true);
    expect(validateMaintenanceRequest(webhook, NOW).ok).toBe(true);
  });

  const invalid: [string, Record<string, unknown>][] = [
    ['no window', { ...BASE_REQUEST, window: undefined }],
    ['an empty window', { ...BASE_REQUEST, window: {} }],
    [
      'both duration and until',
      { ...BASE_REQUEST, window: { duration: '2h', until: '2026-11-28T14:00:00Z' } },
    ],
    ['window null', { ...BASE_REQUEST, window: null }],
    ['requestedBy null (required)', { ...BASE_REQUEST, requestedBy: null }],
    ['no reason', { ...BASE_REQUEST, reason: undefined }],
    ['a blank reason', { ...BASE_REQUEST, reason: '   ' }],
    ['a reason too long', { ...BASE_REQUEST, reason: 'x'.repeat(1025) }],
    ['a requester too long', { ...BASE_REQUEST, requestedBy: 'x'.repeat(257) }],
    ['a bad store id', { ...BASE_REQUEST, customKeyStoreId: 'cks-123' }],
    ['a bad region', { ...BASE_REQUEST, region: 'Frankfurt' }],
    ['an unknown member', { ...BASE_REQUEST, windowDuration: '2h' }],
    ['an unknown member in window', { ...BASE_REQUEST, window: { duration: '2h', hours: 2 } }],
    ['a duration as a number', { ...BASE_REQUEST, window: { duration: 7200 } }],
    ['until not a timestamp', { ...BASE_REQUEST, window: { until: 'tomorrow' } }],
    ['reconnectAttempts 0', { ...BASE_REQUEST, reconnectAttempts: 0 }],
    ['reconnectAttempts 1.5', { ...BASE_REQUEST, reconnectAttempts: 1.5 }],
    ['dryRun as a string', { ...BASE_REQUEST, dryRun: 'true' }],
    ['approval without required', { ...BASE_REQUEST, approval: { timeout: '4h' } }],
    ['an unknown drain provider', { ...BASE_REQUEST, drain: { provider: 'dns' } }],
    ['a webhook without a controller', { ...BASE_REQUEST, drain: { provider: 'webhook' } }],
    [
      'a webhook with a URL',
      { ...BASE_REQUEST, drain: { provider: 'webhook', controller: 'mesh', url: 'https://x.example.com' } },
    ],
    [
      'an alias listed twice',
      {
        ...BASE_REQUEST,
        drain: {
          provider: 'alias',
          aliases: ['alias/a', 'alias/a'],
          fallbackKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
        },
      },
    ],
    ['a canary key that is no key id', { ...BASE_REQUEST, canaryKeyId: 'my-key' }],
  ];

  it.each(invalid)('%s: refused by the schema and by the validator', (_what, request) => {
    const given = JSON.parse(JSON.stringify(request)) as unknown;
    expect(valid(requestSchema(), given)).toBe(false);
    expect(validateMaintenanceRequest(given, NOW).ok).toBe(false);
  });
});

describe('fleet requests', () => {
  it('every fleet example in the docs is valid by the schema and by the validator', () => {
    for (const { where, request } of examples.fleets) {
      expect(valid(fleetSchema(), request), `${where}: ${errorsOf(fleetSchema(), request)}`).toBe(true);
      expect(validateFleetRequest(request, NOW).ok, where).toBe(true);
    }
  });

  const base = {
    stores: ['cks-1234567890abcdef0', 'cks-0987654321fedcba0'],
    request: { window: { duration: '1h' } },
    requestedBy: 'alice@example.com',
    reason: 'CloudHSM firmware 7.2',
  };

  it('null counts as absent', () => {
    const nulls = {
      ...base,
      namePattern: null,
      region: null,
      maxConcurrency: null,
      request: { window: { duration: '1h', until: null }, canaryKeyId: null, drain: null },
    };
    expect(valid(fleetSchema(), nulls), errorsOf(fleetSchema(), nulls)).toBe(true);
    expect(validateFleetRequest(nulls, NOW).ok).toBe(true);
  });

  const invalid: [string, Record<string, unknown>][] = [
    ['both stores and namePattern', { ...base, namePattern: 'prod-*' }],
    ['neither stores nor namePattern', { ...base, stores: undefined }],
    ['a store listed twice', { ...base, stores: ['cks-1234567890abcdef0', 'cks-1234567890abcdef0'] }],
    ['a window until', { ...base, request: { window: { until: '2026-11-28T14:00:00Z' } } }],
    [
      'a canary key',
      { ...base, request: { ...base.request, canaryKeyId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' } },
    ],
    [
      'an alias drain',
      {
        ...base,
        request: {
          ...base.request,
          drain: {
            provider: 'alias',
            aliases: ['alias/a'],
            fallbackKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
          },
        },
      },
    ],
    [
      'a store id in the template',
      { ...base, request: { ...base.request, customKeyStoreId: 'cks-1234567890abcdef0' } },
    ],
    ['maxConcurrency 0', { ...base, maxConcurrency: 0 }],
  ];

  it.each(invalid)('%s: refused by the schema and by the validator', (_what, request) => {
    const given = JSON.parse(JSON.stringify(request)) as unknown;
    expect(valid(fleetSchema(), given)).toBe(false);
    expect(validateFleetRequest(given, NOW).ok).toBe(false);
  });
});

describe('update arguments', () => {
  it('every update example in the docs is valid', () => {
    for (const { where, update, argument } of examples.updates) {
      const validate = validator(`schema/updates/${update}.argument.schema.json`);
      expect(valid(validate, argument), `${where}: ${errorsOf(validate, argument)}`).toBe(true);
    }
  });

  /** What the workflow's validators say about an argument's shape (workflows/update-arguments.ts). */
  function workflowAccepts(update: 'endWindowNow' | 'abort', arg: unknown): boolean {
    try {
      const args = argumentObject(update, arg, '{}');
      actorField(update, args);
      if (update === 'abort') reasonField(update, args);
      return true;
    } catch {
      return false;
    }
  }

  const by = 'alice@example.com';
  const shapes: unknown[] = [
    undefined,
    null,
    'alice',
    [by],
    {},
    { by },
    { by: '' },
    { by: '   ' },
    { by: 42 },
    { by: 'x'.repeat(256) },
    { by: 'x'.repeat(257) },
    { by, reason: 'vendor postponed' },
    { by, reason: '' },
    { by, reason: 'x'.repeat(1025) },
    { by, reason: 'token Bearer abcdefghijklmnopqrstuvwxyz0123456789' },
    { by: 'alice\u001b[31m' },
    { by, extra: 'ignored' },
  ];

  it.each(shapes.map((arg) => [JSON.stringify(arg)?.slice(0, 40) ?? 'no argument', arg]))(
    '%s: the schemas and the workflow validators agree',
    (_what, arg) => {
      for (const update of ['endWindowNow', 'abort'] as const) {
        const zod = (update === 'abort' ? abortArgumentSchema : endWindowNowArgumentSchema).safeParse(arg);
        expect(zod.success, update).toBe(workflowAccepts(update, arg));
        // JSON Schema checks the shape and the bounds only (not secrets or control characters).
        const validate = validator(`schema/updates/${update}.argument.schema.json`);
        if (zod.success) expect(valid(validate, arg ?? null), update).toBe(true);
        else if (typeof arg !== 'object' || arg === null)
          expect(valid(validate, arg ?? null), update).toBe(false);
      }
    },
  );

  it('extendWindow needs a positive duration string', () => {
    const validate = validator('schema/updates/extendWindow.argument.schema.json');
    for (const duration of ['30m', 'PT30M', '1h', '90s']) {
      expect(extendWindowArgumentSchema.safeParse({ by, duration }).success, duration).toBe(true);
      expect(valid(validate, { by, duration }), duration).toBe(true);
    }
    for (const duration of [30, null, '', 'x'.repeat(65)]) {
      expect(extendWindowArgumentSchema.safeParse({ by, duration }).success, String(duration)).toBe(false);
      expect(valid(validate, { by, duration }), String(duration)).toBe(false);
    }
    for (const duration of ['0s', 'soon', '-5m']) {
      expect(extendWindowArgumentSchema.safeParse({ by, duration }).success, duration).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Results

const WF = 'keystore-maint/us-east-1/cks-1234567890abcdef0';
const RUN = '0195a1b2-4c5d-7e8f-9a0b-1c2d3e4f5a6b';

/** A result with every optional part present (a dry run has a plan; here, everything at once). */
const result: MaintenanceResult = {
  workflowId: WF,
  runId: RUN,
  customKeyStoreId: 'cks-1234567890abcdef0',
  region: 'us-east-1',
  phase: 'NEEDS_ATTENTION',
  outcome: 'NEEDS_ATTENTION',
  dryRun: false,
  requestedBy: 'alice@example.com',
  reason: 'rotate the XKS proxy TLS certificate',
  ticket: 'CHG-1234',
  timeline: [
    { phase: 'PREFLIGHT', startedAt: '2026-12-06T02:00:00.000Z', endedAt: '2026-12-06T02:00:01.200Z' },
    { phase: 'NEEDS_ATTENTION', startedAt: '2026-12-06T04:40:00.000Z', endedAt: '2026-12-06T04:40:00.000Z' },
  ],
  window: {
    startedAt: '2026-12-06T02:01:00.000Z',
    endsAt: '2026-12-06T04:01:00.000Z',
    latestEnd: '2026-12-07T02:01:00.000Z',
  },
  store: {
    type: 'EXTERNAL_KEY_STORE',
    name: 'payments-xks',
    lastObservedState: 'FAILED',
    lastObservedAt: '2026-12-06T04:39:58.000Z',
    changedSinceObserved: true,
    connectionErrorCode: 'XKS_PROXY_NOT_REACHABLE',
  },
  connectAttempts: 3,
  approval: { required: true, approvedBy: 'bob@example.com', approvedAt: '2026-12-06T02:00:30.000Z' },
  extensions: [
    { by: 'alice@example.com', at: '2026-12-06T03:30:00.000Z', newEnd: '2026-12-06T04:31:00.000Z' },
  ],
  windowEndedEarlyBy: 'alice@example.com',
  abort: { by: 'carol@example.com', reason: 'vendor postponed the patch', at: '2026-12-06T04:35:00.000Z' },
  drainPlan: {
    provider: 'alias',
    fallbackKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
    aliases: [
      { aliasName: 'alias/payments-data', originalTargetKeyId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
    ],
  },
  drain: {
    provider: 'alias',
    drainedAt: '2026-12-06T02:00:50.000Z',
    changes: [
      { aliasName: 'alias/payments-data', from: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', to: '1234…' },
    ],
  },
  trafficRestored: false,
  trafficRestore: { restored: [], leftAlone: [{ aliasName: 'alias/ledger', now: 'abcd…' }] },
  connectionError: {
    code: 'XKS_PROXY_NOT_REACHABLE',
    meaning: 'KMS cannot communicate with the external key store proxy.',
    action: 'Check that the proxy is running and reachable, then reconnect.',
  },
  message: 'NEEDS ATTENTION: the store did not come back. Traffic stays drained.',
  audit: { written: 41, unwritten: 1, failures: 2, refused: 1, lastProblem: 'sink timed out' },
  events: [
    {
      schemaVersion: 1,
      workflowId: WF,
      runId: RUN,
      seq: 8,
      at: '2026-12-06T02:01:00.400Z',
      phase: 'DISCONNECTING',
      action: 'kms.disconnect',
      actor: 'keystore-maint',
      detail: {
        kms: { operation: 'DisconnectCustomKeyStore', requestId: 'f0e1d2c3', result: 'accepted' },
        stateBefore: 'CONNECTED',
      },
      outcome: 'ok',
    },
    {
      schemaVersion: 1,
      workflowId: WF,
      runId: RUN,
      seq: 42,
      at: '2026-12-06T04:40:00.000Z',
      phase: 'NEEDS_ATTENTION',
      action: 'run.needsAttention',
      actor: 'keystore-maint',
      detail: {},
      outcome: 'failed',
      error: { type: 'NeedsAttention', message: 'the store did not come back' },
    },
  ],
  plan: [
    {
      phase: 'DISCONNECTING',
      description: 'DisconnectCustomKeyStore',
      kmsOperations: ['DisconnectCustomKeyStore'],
    },
  ],
};

/** Forbids unknown members everywhere a schema lists its members: catches a misspelt one. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = closed(value);
  if ('properties' in out && !('additionalProperties' in out) && out.type === 'object') {
    out.additionalProperties = false;
  }
  return out;
}

describe('results', () => {
  const resultSchema = () => validator('schema/maintenance-result.schema.json');
  const statusSchema = () => validator('schema/maintenance-result.schema.json#/$defs/MaintenanceStatus');

  it('a result with every optional part validates against the result schema', () => {
    expect(valid(resultSchema(), result), errorsOf(resultSchema(), result)).toBe(true);
    const strict = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    addFormats(strict);
    const validate = strict.compile(closed(readJson('schema/maintenance-result.schema.json')) as object);
    expect(validate(result), strict.errorsText(validate.errors)).toBe(true);
    expect(maintenanceResultSchema.safeParse(result).success).toBe(true);
  });

  it('a status while the run goes on has no outcome: valid as MaintenanceStatus, not as a result', () => {
    const { outcome: _outcome, plan: _plan, ...rest } = result;
    const status: MaintenanceStatus = { ...rest, phase: 'IN_WINDOW', outcome: undefined };
    const wire = JSON.parse(JSON.stringify(status)) as unknown;
    expect(valid(statusSchema(), wire), errorsOf(statusSchema(), wire)).toBe(true);
    expect(valid(resultSchema(), wire)).toBe(false);
  });

  it('a result with a wrong member fails', () => {
    for (const broken of [
      { ...result, outcome: 'DONE' },
      { ...result, phase: 'WAITING' },
      { ...result, store: { ...result.store, lastObservedState: 'OFFLINE' } },
      { ...result, timeline: [{ phase: 'PREFLIGHT' }] },
      { ...result, audit: { written: -1, unwritten: 0, failures: 0, refused: 0 } },
      { ...result, events: [{ ...result.events[0], outcome: 'great' }] },
      { ...result, window: { endsAt: 'soon' } },
    ]) {
      expect(valid(resultSchema(), broken), JSON.stringify(broken).slice(0, 80)).toBe(false);
    }
  });

  it('a fleet result validates against the fleet result schema', () => {
    const fleet: FleetResult = {
      workflowId: 'keystore-maint-fleet/eu-west-1/xks-cert-2026-03',
      runId: RUN,
      continuedAsNew: 1,
      phase: 'COMPLETED_WITH_ERRORS',
      outcome: 'COMPLETED_WITH_ERRORS',
      region: 'eu-west-1',
      selection: { kind: 'pattern', namePattern: 'prod-eu-*' },
      maxConcurrency: 3,
      maxErrors: 1,
      requestedBy: 'alice@example.com',
      reason: 'CloudHSM firmware 7.2',
      startedAt: '2026-12-06T02:00:00.000Z',
      endedAt: '2026-12-06T05:00:00.000Z',
      counts: { total: 2, pending: 0, running: 0, completed: 1, errors: 1, skipped: 0 },
      abort: { by: 'carol@example.com', reason: 'change freeze', at: '2026-12-06T04:00:00.000Z' },
      message: 'every store was run: 1 completed, 1 did not (maxErrors 1).',
      stores: [
        {
          customKeyStoreId: 'cks-1234567890abcdef0',
          name: 'prod-eu-a',
          workflowId: 'keystore-maint/eu-west-1/cks-1234567890abcdef0',
          state: 'COMPLETED',
          runId: RUN,
          startedAt: '2026-12-06T02:00:01.000Z',
          endedAt: '2026-12-06T03:00:00.000Z',
          message: 'maintenance completed',
        },
        {
          customKeyStoreId: 'cks-0987654321fedcba0',
          name: 'prod-eu-b',
          workflowId: 'keystore-maint/eu-west-1/cks-0987654321fedcba0',
          state: 'NEEDS_ATTENTION',
          runId: RUN,
          startedAt: '2026-12-06T03:00:01.000Z',
          endedAt: '2026-12-06T05:00:00.000Z',
          message: 'NEEDS ATTENTION: …',
          errorType: 'NeedsAttention',
          connectionErrorCode: 'USER_LOGGED_IN',
        },
      ],
    };
    const validate = validator('schema/fleet-result.schema.json');
    expect(valid(validate, fleet), errorsOf(validate, fleet)).toBe(true);
    expect(fleetResultSchema.safeParse(fleet).success).toBe(true);
    const running = { ...fleet, outcome: undefined, phase: 'RUNNING', endedAt: undefined };
    const wire = JSON.parse(JSON.stringify(running)) as unknown;
    const status = validator('schema/fleet-result.schema.json#/$defs/FleetStatus');
    expect(valid(status, wire), errorsOf(status, wire)).toBe(true);
    expect(valid(validate, wire)).toBe(false);
  });

  it('update answers validate', () => {
    const answers: [string, unknown][] = [
      [
        'approve',
        { approvedBy: 'bob@example.com', approvedAt: '2026-12-06T02:00:30.000Z', alreadyApproved: false },
      ],
      ['extendWindow', { windowEndsAt: '2026-12-06T04:31:00.000Z' }],
      ['endWindowNow', { windowEndsAt: '2026-12-06T03:12:00.000Z' }],
      ['abort', { accepted: true, phase: 'IN_WINDOW' }],
      ['fleet-abort', { accepted: true, cancelling: 2, notStarted: 5 }],
    ];
    for (const [update, answer] of answers) {
      const validate = validator(`schema/updates/${update}.answer.schema.json`);
      expect(valid(validate, answer), `${update}: ${errorsOf(validate, answer)}`).toBe(true);
      expect(valid(validate, {}), update).toBe(false);
    }
  });
});

describe('docs/contract.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/contract.md'), 'utf8');

  it('quotes every example file as it is', () => {
    const files = ['examples/go', 'examples/python', 'examples/cli'].flatMap((dir) =>
      readdirSync(join(ROOT, dir))
        // go.sum is Go's checksum database for the module, not something a reader copies.
        .filter((name) => name !== 'go.sum')
        .map((name) => `${dir}/${name}`),
    );
    expect(files).toEqual(
      expect.arrayContaining([
        'examples/go/main.go',
        'examples/go/go.mod',
        'examples/python/maintenance_client.py',
      ]),
    );
    for (const file of files) {
      expect(doc.includes(readFileSync(join(ROOT, file), 'utf8')), `${file} is not quoted as it is`).toBe(
        true,
      );
    }
  });

  it('names every failure type', () => {
    const types = [
      ...Object.values(FAILURE_TYPES),
      ...Object.values(AUDIT_FAILURE_TYPES),
      ...Object.values(FLEET_FAILURE_TYPES),
      ...Object.values(FAILURE_TYPES_WEBHOOK),
    ];
    for (const type of types) expect(doc, type).toContain(`\`${type}\``);
  });

  it('starts with --fail-existing wherever the CLI starts a workflow', () => {
    for (const file of ['docs/contract.md', 'docs/starting-runs.md', 'examples/cli/start.sh']) {
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n\s*/g, ' ');
      const starts = text.split('\n').filter((l) => /temporal workflow start .*--type /.test(l));
      expect(starts.length, file).toBeGreaterThan(0);
      for (const line of starts) {
        expect(line, file).toContain('--fail-existing');
      }
    }
  });
});
