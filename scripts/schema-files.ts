/**
 * The published contract for callers in other languages, as JSON Schema files (draft 2020-12)
 * generated from the zod schemas in src/domain/ and committed under schema/:
 *
 * - schema/maintenance-request.schema.json  the input of keyStoreMaintenance
 * - schema/maintenance-result.schema.json   its result; `$defs.MaintenanceStatus` is the `status` query's answer
 * - schema/fleet-request.schema.json        the input of keyStoreFleetMaintenance
 * - schema/fleet-result.schema.json         its result; `$defs.FleetStatus` is its `status` query's answer
 * - schema/updates/<update>.argument.schema.json and <update>.answer.schema.json
 *
 * `schemaFiles()` produces every file's expected content in memory (scripts/generate-schemas.ts
 * writes them, scripts/check-generated.ts and test/unit/contract-schema.test.ts compare).
 *
 * What the zod schemas say that JSON Schema can say is generated; on top of that, by design:
 * - requests: every optional property also accepts `null` (the validators treat `null` as absent,
 *   `withoutNulls` in src/domain/request.ts); "exactly one of" rules (`window.duration` or
 *   `window.until`; a fleet's `stores` or `namePattern`); what a fleet refuses in its template;
 * - text that is trimmed and must not be empty gets the pattern `\S` (a non-space character);
 * - a property that is refused unless absent (a webhook's old `url`) accepts only `null`.
 * Results and answers leave `additionalProperties` open: later versions may add properties.
 */
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { z } from 'zod';
import { formatDuration } from '../src/domain/duration';
import { FLEET_FAILURE_TYPES, FLEET_LIMITS, fleetRequestSchema } from '../src/domain/fleet';
import { FAILURE_TYPES } from '../src/domain/errors';
import { DEFAULT_TASK_QUEUE, WORKFLOW_TYPES } from '../src/domain/names';
import { LIMITS, maintenanceRequestSchema } from '../src/domain/request';
import {
  fleetResultSchema,
  fleetStatusSchema,
  maintenanceResultSchema,
  maintenanceStatusSchema,
  type Assert,
  type Matches,
} from '../src/domain/result-schema';
import {
  abortAnswerSchema,
  abortArgumentSchema,
  approveAnswerSchema,
  approveArgumentSchema,
  endWindowNowArgumentSchema,
  extendWindowArgumentSchema,
  fleetAbortAnswerSchema,
  fleetAbortArgumentSchema,
  windowAnswerSchema,
} from '../src/domain/update-schemas';
import { projectRoot } from '../src/util/project-root';
import type { FleetAbortAnswer, FleetAbortArgs } from '../workflows/fleet-messages';
import type {
  AbortAnswer,
  AbortArgs,
  ApproveAnswer,
  ApproveArgs,
  EndWindowNowArgs,
  ExtendWindowArgs,
  WindowAnswer,
} from '../workflows/messages';

// The update schemas describe the same JSON as the types the workflows and the typed client use
// (workflows/messages.ts, workflows/fleet-messages.ts): changing one without the other fails tsc.
export type _UpdateSchemasMatch = [
  Assert<Matches<ApproveArgs, typeof approveArgumentSchema>>,
  Assert<Matches<ApproveAnswer, typeof approveAnswerSchema>>,
  Assert<Matches<ExtendWindowArgs, typeof extendWindowArgumentSchema>>,
  Assert<Matches<EndWindowNowArgs, typeof endWindowNowArgumentSchema>>,
  Assert<Matches<WindowAnswer, typeof windowAnswerSchema>>,
  Assert<Matches<AbortArgs, typeof abortArgumentSchema>>,
  Assert<Matches<AbortAnswer, typeof abortAnswerSchema>>,
  Assert<Matches<FleetAbortArgs, typeof fleetAbortArgumentSchema>>,
  Assert<Matches<FleetAbortAnswer, typeof fleetAbortAnswerSchema>>,
];

/** The directory of the schema files, relative to the project root. */
export const SCHEMA_DIR = 'schema';
/** The command that writes them. */
export const SCHEMA_COMMAND = 'npm run schema';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';
const NULL_MEANS_ABSENT =
  'A member that is null counts as absent, at any depth: every optional property also accepts null, and a required property sent as null is reported as missing.';
const OPEN_OBJECTS = 'Objects may gain properties in later versions: ignore the ones you do not know.';
const FREE_TEXT =
  'Free text: trimmed, with at least one non-space character; refused when it looks like it carries a secret (a bearer token, a URL with a password, a private key) or holds control characters other than tab and newline, NUL or an unpaired surrogate.';

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(root: JsonObject, path: readonly string[]): JsonObject {
  let node: Json = root;
  for (const key of path) {
    if (!isObject(node) || !isObject(node[key])) {
      throw new Error(`schema generation: no object at ${path.join('.')} (the zod schema changed?)`);
    }
    node = node[key];
  }
  if (!isObject(node)) throw new Error(`schema generation: no object at ${path.join('.')}`);
  return node;
}

/**
 * Adjustments made while zod converts a schema: a string that is trimmed and must not be empty
 * must contain a non-space character, and free text that is screened (secrets, control
 * characters) says so.
 */
function override(ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
  const schema = ctx.zodSchema;
  const json = ctx.jsonSchema;
  if (schema._zod.def.type !== 'string' || typeof json.minLength !== 'number' || json.minLength < 1) return;
  const trims = z.safeParse(schema, ' a ').data === 'a';
  if (!trims) return;
  json.pattern ??= '\\S';
  const screened = !z.safeParse(schema, 'Bearer abcdefghijklmnopqrstuvwxyz0123456789').success;
  if (screened) json.description = json.description ? `${json.description} ${FREE_TEXT}` : FREE_TEXT;
}

/** `z.undefined()`, a member refused unless absent (e.g. a webhook's old `url`), accepts only null. */
function unrepresentable(ctx: { zodSchema: z.core.$ZodType }): z.core.JSONSchema.BaseSchema | 'throw' {
  const def = ctx.zodSchema._zod.def;
  if (def.type !== 'undefined') return 'throw';
  const message: unknown = typeof def.error === 'function' ? def.error({} as never) : undefined;
  const why = typeof message === 'string' ? message : 'refused unless absent';
  return { type: 'null', description: `${why}. Only null (absent) passes.` };
}

/**
 * A zod schema as JSON Schema, without `$schema`. Converted as input (the JSON as written, e.g.
 * durations as strings, before the validator turns them into milliseconds): a plain object stays
 * open, a strict one says `additionalProperties: false`.
 */
function toJson(schema: z.ZodType): JsonObject {
  const converted = z.toJSONSchema(schema, { io: 'input', unrepresentable, override });
  const json = JSON.parse(JSON.stringify(converted)) as unknown;
  if (!isObject(json as Json)) throw new Error('schema generation: not an object');
  const { $schema: _draft, ...rest } = json as JsonObject;
  return rest;
}

/** The schema of a property that may also be null. */
function orNull(schema: JsonObject): JsonObject {
  const { type } = schema;
  if (type === 'null') return schema;
  if (typeof type === 'string' && schema.const === undefined) {
    const copy: JsonObject = { ...schema, type: [type, 'null'] };
    if (Array.isArray(schema.enum)) copy.enum = [...schema.enum, null];
    return copy;
  }
  if (Array.isArray(type)) return type.includes('null') ? schema : { ...schema, type: [...type, 'null'] };
  const { description, ...rest } = schema;
  return {
    ...(description !== undefined ? { description } : {}),
    anyOf: [rest, { type: 'null' }],
  };
}

/** Every optional property of every object, at any depth, also accepts null. */
function nullableOptionals(node: Json): Json {
  if (Array.isArray(node)) return node.map(nullableOptionals);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) {
      const required = Array.isArray(node.required) ? node.required : [];
      const properties: JsonObject = {};
      for (const [name, property] of Object.entries(value)) {
        const converted = nullableOptionals(property);
        properties[name] = isObject(converted) && !required.includes(name) ? orNull(converted) : converted;
      }
      out[key] = properties;
    } else {
      out[key] = nullableOptionals(value);
    }
  }
  return out;
}

const d = formatDuration;

/** What each member of a maintenance request means (docs/starting-runs.md). */
const REQUEST_MEMBERS: Readonly<Record<string, string>> = {
  customKeyStoreId: 'The store: "cks-" and 17 hex digits.',
  region: "The store's AWS Region; default: the Region in the workflow id, else the worker's (AWS_REGION).",
  account:
    "The account that owns the store; default: the worker's own. With it the workflow id is keystore-maint/<account>/<region>/<customKeyStoreId>; without executionRole the worker checks that its own credentials are in this account.",
  executionRole:
    'The IAM role (name, optionally with its path) the worker assumes in account for every KMS call of the run (docs/fleet.md, "Roles").',
  externalId: "The ExternalId the execution role's trust policy requires, if any.",
  window:
    'How long the store stays disconnected ({"duration": "2h"}), or until when ({"until": "<timestamp>"}).',
  maxWindow: `The cap for extendWindow (default ${d(LIMITS.maxWindow.default)}).`,
  reason: 'Why (audit trail).',
  requestedBy: 'Who asks (audit trail).',
  ticket: 'A change ticket.',
  approval: `{"required": true}: wait for the approve update before touching anything, at most timeout (default ${d(LIMITS.approvalTimeout.default)}).`,
  drain:
    'How traffic leaves the store before it is disconnected (docs/traffic.md); default {"provider": "none"}.',
  canaryKeyId: 'A key in the store for a GenerateDataKey + Decrypt check before traffic returns.',
  timeouts: `How long DISCONNECTED and CONNECTED may take (default ${d(LIMITS.disconnectTimeout.default)} and ${d(LIMITS.connectTimeout.default)}).`,
  reconnectAttempts: `Connect attempts for transient FAILED states (default ${LIMITS.reconnectAttempts.default}).`,
  pollInterval: `How often the connection state is read (default ${d(LIMITS.pollInterval.default)}).`,
  confirmSettle: `How long every read must say CONNECTED before the store counts as back (default ${d(LIMITS.confirmSettle.default)}; above KMS's eventual-consistency lag).`,
  dryRun: 'true: describe and plan only, change nothing.',
  allowAlreadyDisconnected:
    'true: take over a store that is already DISCONNECTED (and connect it at the end).',
};

/** What each member of a fleet request means (docs/fleet.md). */
const FLEET_MEMBERS: Readonly<Record<string, string>> = {
  stores: 'Store ids, run in this order.',
  namePattern:
    'A glob on CustomKeyStoreName (* any characters, ? one; the whole name, case-sensitive), resolved once when the fleet starts; the stores run in name order. Regular expressions ("/…/") are refused.',
  region: "The Region of every store; default: the worker's. Not with locations.",
  locations: `Stores in many accounts and Regions (docs/fleet.md, "Locations"): each location names accounts, Regions, the execution role to assume in each account (and its ExternalId), which stores (ids for one account-Region, a namePattern, or all), and its own maxConcurrency and maxErrors. At most ${FLEET_LIMITS.targets.max} account-Regions in all.`,
  maxConcurrency: `Stores maintained at the same time, over all locations (default ${FLEET_LIMITS.maxConcurrency.default}).`,
  maxErrors: `How many runs may end other than COMPLETED (and, with locations, account-Regions fail to be listed) before the fleet starts no more (default ${FLEET_LIMITS.maxErrors.default}: the first one stops it).`,
  continueAsNewAfterStores: `Children per workflow run before the fleet continues as new (default ${FLEET_LIMITS.continueAsNewAfterStores.default}).`,
  requestedBy: "Who asks; each store's run records it.",
  reason: 'Why; each store\'s run records it, with " (fleet <workflow id>)" appended.',
};

/** Puts each member's meaning in front of what its schema already says. */
function describeMembers(object: JsonObject, meanings: Readonly<Record<string, string>>): void {
  const properties = objectAt(object, ['properties']);
  for (const [name, meaning] of Object.entries(meanings)) {
    if (!(name in properties)) continue;
    const member = objectAt(properties, [name]);
    const said = member.description;
    delete member.description;
    properties[name] = {
      description: typeof said === 'string' ? `${meaning} ${said}` : meaning,
      ...member,
    };
  }
}

/** "Exactly one of these members" (each given as non-null). */
function exactlyOne(members: readonly (readonly [string, string])[]): Json {
  return members.map(([name, type]) => ({ required: [name], properties: { [name]: { type } } }));
}

function document(title: string, description: string, body: JsonObject): JsonObject {
  return { $schema: DRAFT, title, description, ...body };
}

function maintenanceRequest(): JsonObject {
  const converted = toJson(maintenanceRequestSchema());
  aliasesUnique(converted);
  describeMembers(converted, REQUEST_MEMBERS);
  const body = nullableOptionals(converted) as JsonObject;
  const window = objectAt(body, ['properties', 'window']);
  window.description = `${REQUEST_MEMBERS.window ?? ''} Give exactly one of the two.`;
  window.oneOf = exactlyOne([
    ['duration', 'string'],
    ['until', 'string'],
  ]);
  return document(
    'keyStoreMaintenance request',
    `The input of the Temporal workflow type ${WORKFLOW_TYPES.maintenance} (task queue ${DEFAULT_TASK_QUEUE} by default, workflow id keystore-maint/<region>/<customKeyStoreId>): one JSON object. ${NULL_MEANS_ABSENT} Unknown members are refused. This schema checks the shape and the bounds; the workflow validates the request again as its first step and also checks what it cannot: each duration's form and range, free text, that window.until is in the future and window.duration or window.until within maxWindow. A refused request fails the run with failure type ${FAILURE_TYPES.invalidRequest}, details [{"problems": ["<field>: <what is wrong>", ...]}]. See docs/contract.md.`,
    body,
  );
}

/** The drain's branch for one provider. */
function drainBranch(request: JsonObject, provider: string): JsonObject {
  const branches = objectAt(request, ['properties', 'drain']).oneOf;
  const branch = Array.isArray(branches)
    ? branches.find((b) => isObject(b) && objectAt(b, ['properties', 'provider']).const === provider)
    : undefined;
  if (!isObject(branch)) throw new Error(`schema generation: no drain provider ${provider}`);
  return branch;
}

/** An alias listed twice is refused. */
function aliasesUnique(request: JsonObject): void {
  objectAt(drainBranch(request, 'alias'), ['properties', 'aliases']).uniqueItems = true;
}

function fleetRequest(): JsonObject {
  const converted = toJson(fleetRequestSchema());
  describeMembers(converted, FLEET_MEMBERS);
  // What a fleet refuses in its template, though a single run accepts it.
  const template = objectAt(converted, ['properties', 'request']);
  describeMembers(template, REQUEST_MEMBERS);
  template.description =
    'The maintenance request every store gets (see maintenance-request.schema.json), without customKeyStoreId, region, account, executionRole, externalId, requestedBy and reason, which the fleet supplies.';
  const window = objectAt(template, ['properties', 'window']);
  window.description = 'Each store gets its own window when its turn comes: give a duration.';
  window.required = ['duration'];
  objectAt(window, ['properties']).until = {
    type: 'null',
    description: 'Not in a fleet (each store gets its own window). Only null (absent) passes.',
  };
  objectAt(template, ['properties']).canaryKeyId = {
    type: 'null',
    description: 'Not in a fleet: a canary key belongs to one store. Only null (absent) passes.',
  };
  const drain = objectAt(template, ['properties', 'drain']);
  const alias = drainBranch(template, 'alias');
  drain.oneOf = (drain.oneOf as Json[]).filter((branch) => branch !== alias);
  drain.description =
    'How traffic leaves each store: "none" or "webhook" (the alias provider names one store\'s aliases, so a fleet refuses it).';
  objectAt(converted, ['properties', 'stores']).uniqueItems = true;
  const body = nullableOptionals(converted) as JsonObject;
  body.oneOf = exactlyOne([
    ['stores', 'array'],
    ['namePattern', 'string'],
    ['locations', 'array'],
  ]);
  return document(
    'keyStoreFleetMaintenance request',
    `The input of the Temporal workflow type ${WORKFLOW_TYPES.fleet} (task queue ${DEFAULT_TASK_QUEUE} by default, workflow id keystore-maint-fleet/<region>/<name>, or keystore-maint-fleet/locations/<name>): one JSON object. Give exactly one of stores, namePattern or locations. ${NULL_MEANS_ABSENT} Unknown members are refused. The workflow validates the request again, including the template completed as a store's request; a refused request fails with failure type ${FLEET_FAILURE_TYPES.invalidRequest}, details [{"problems": [...]}]. See docs/fleet.md and docs/contract.md.`,
    body,
  );
}

/** A result whose `$defs` also hold the status query's answer. */
function resultWithStatus(
  title: string,
  description: string,
  result: z.ZodType,
  statusName: string,
  status: z.ZodType,
): JsonObject {
  return document(title, `${description} ${OPEN_OBJECTS}`, {
    ...toJson(result),
    $defs: { [statusName]: toJson(status) },
  });
}

function update(
  workflowType: string,
  name: string,
  part: 'argument' | 'answer',
  schema: z.ZodType,
  description: string,
): JsonObject {
  const what =
    part === 'argument'
      ? [
          `The argument of the update ${name} of ${workflowType}: one JSON object (members not listed are ignored).`,
          description,
          `A refused update fails with failure type ${FAILURE_TYPES.updateRejected}; its message says why and what to send instead. See docs/contract.md.`,
        ]
      : [`The answer of the update ${name} of ${workflowType}.`, description, OPEN_OBJECTS];
  return document(`${workflowType} update ${name}: ${part}`, what.filter(Boolean).join(' '), toJson(schema));
}

/** Every schema file, by path relative to the project root, as a JSON value. */
export function schemaDocuments(): ReadonlyMap<string, JsonObject> {
  const m = WORKFLOW_TYPES.maintenance;
  const f = WORKFLOW_TYPES.fleet;
  const files: [string, JsonObject][] = [
    ['maintenance-request.schema.json', maintenanceRequest()],
    [
      'maintenance-result.schema.json',
      resultWithStatus(
        `${m} result`,
        `The result of a ${m} run: returned when it ends COMPLETED or CANCELLED, and the details[0] of its failure when it ends FAILED (failure type ${FAILURE_TYPES.maintenanceFailed}) or NEEDS_ATTENTION (${FAILURE_TYPES.needsAttention}). The answer of its status query is $defs.MaintenanceStatus: the same object while the run goes on, without outcome (until it ends) and plan.`,
        maintenanceResultSchema,
        'MaintenanceStatus',
        maintenanceStatusSchema,
      ),
    ],
    ['fleet-request.schema.json', fleetRequest()],
    [
      'fleet-result.schema.json',
      resultWithStatus(
        `${f} result`,
        `The result of a ${f} run: returned when it ends COMPLETED (or ABORTED with no store FAILED or NEEDS_ATTENTION), else the details[0] of its failure (failure type ${FLEET_FAILURE_TYPES.runsFailed}). The answer of its status query is $defs.FleetStatus: the same object while the fleet goes on, without outcome until it ends.`,
        fleetResultSchema,
        'FleetStatus',
        fleetStatusSchema,
      ),
    ],
    [
      'updates/approve.argument.schema.json',
      update(
        m,
        'approve',
        'argument',
        approveArgumentSchema,
        'Allowed while the run is in PREFLIGHT or AWAITING_APPROVAL and its request has approval.required; approving twice is harmless.',
      ),
    ],
    ['updates/approve.answer.schema.json', update(m, 'approve', 'answer', approveAnswerSchema, '')],
    [
      'updates/extendWindow.argument.schema.json',
      update(
        m,
        'extendWindow',
        'argument',
        extendWindowArgumentSchema,
        "Allowed while the window is open (IN_WINDOW, not ended early, the run not stopping), up to the request's maxWindow.",
      ),
    ],
    ['updates/extendWindow.answer.schema.json', update(m, 'extendWindow', 'answer', windowAnswerSchema, '')],
    [
      'updates/endWindowNow.argument.schema.json',
      update(
        m,
        'endWindowNow',
        'argument',
        endWindowNowArgumentSchema,
        'Allowed while the window is open (IN_WINDOW).',
      ),
    ],
    ['updates/endWindowNow.answer.schema.json', update(m, 'endWindowNow', 'answer', windowAnswerSchema, '')],
    [
      'updates/abort.argument.schema.json',
      update(
        m,
        'abort',
        'argument',
        abortArgumentSchema,
        'Allowed until the run starts bringing the store back (PREFLIGHT to IN_WINDOW), once.',
      ),
    ],
    ['updates/abort.answer.schema.json', update(m, 'abort', 'answer', abortAnswerSchema, '')],
    [
      'updates/fleet-abort.argument.schema.json',
      update(f, 'abort', 'argument', fleetAbortArgumentSchema, 'Allowed once, until the fleet has ended.'),
    ],
    ['updates/fleet-abort.answer.schema.json', update(f, 'abort', 'answer', fleetAbortAnswerSchema, '')],
  ];
  return new Map(files.map(([file, json]) => [`${SCHEMA_DIR}/${file}`, json]));
}

/**
 * Every schema file's expected content, by path relative to the project root: pretty-printed
 * JSON as Prettier writes it (the project's configuration), ending with a newline.
 */
export async function schemaFiles(root: string = projectRoot()): Promise<ReadonlyMap<string, string>> {
  const files = new Map<string, string>();
  for (const [path, json] of schemaDocuments()) {
    const options = (await resolveConfig(join(root, path))) ?? {};
    files.set(path, await format(JSON.stringify(json, null, 2), { ...options, parser: 'json' }));
  }
  return files;
}
