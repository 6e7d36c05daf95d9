/**
 * STS `AssumeRole`: the caller trades its credentials for temporary ones of a role, usually in
 * another account, which is how a maintenance runner reaches stores across accounts.
 *
 * Parameters are checked against the STS model's constraints, each violation reported the way
 * STS's validation does (`ValidationError`, `1 validation error detected: Value '…' at
 * 'roleSessionName' failed to satisfy constraint: …`):
 *
 *   - `RoleArn` (required, 20–2048 characters) must be a role ARN of the simulator's partition,
 *     `arn:<partition>:iam::<12 digits>:role/<path/>name`;
 *   - `RoleSessionName` (required), 2–64 characters of `[\w+=,.@-]`;
 *   - `DurationSeconds`, 900–43200, default 3600;
 *   - `ExternalId`, 2–1224 characters of `[\w+=,.@:/-]`.
 *
 * Then, as STS answers them: a role that does not exist, a caller whose account the role does not
 * trust, or a missing or wrong `ExternalId` is `AccessDenied` with STS's message (`User: <caller>
 * is not authorized to perform: sts:AssumeRole on resource: <role>`), which never tells which of
 * them it was; a session longer than the role's `MaxSessionDuration`, or longer than an hour when
 * an assumed-role session assumes a role (role chaining), is a `ValidationError`. Session
 * policies, tags, MFA and source identity are accepted and ignored.
 */
import type { Caller, RoleRecord, SessionRecord } from './iam';
import { DEFAULT_MAX_SESSION_SECONDS } from './iam';
import type { Simulator } from './simulator';
import { StsError } from './sts-error';

export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 43_200;

const SESSION_NAME_PATTERN = /^[\w+=,.@-]*$/;
const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]*$/;
/** A role ARN: path segments and name as IAM allows them. */
const ROLE_ARN_PATTERN =
  /^arn:([a-z-]+):iam::([0-9]{12}):role(\/(?:[\u0021-\u007E]+\/)?)?([\w+=,.@-]{1,64})$/;

export interface AssumeRoleInput {
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number;
  externalId?: string | undefined;
}

/** The request's parameters, or a `ValidationError` listing every violation. */
export function parseAssumeRole(params: URLSearchParams): AssumeRoleInput {
  const problems: string[] = [];
  const roleArn = params.get('RoleArn');
  const roleSessionName = params.get('RoleSessionName');
  const duration = params.get('DurationSeconds');
  const externalId = params.get('ExternalId');
  checkString(problems, 'roleArn', roleArn, { min: 20, max: 2048, required: true });
  checkString(problems, 'roleSessionName', roleSessionName, {
    min: 2,
    max: 64,
    required: true,
    pattern: SESSION_NAME_PATTERN,
    patternText: '[\\w+=,.@-]*',
  });
  checkString(problems, 'externalId', externalId, {
    min: 2,
    max: 1224,
    required: false,
    pattern: EXTERNAL_ID_PATTERN,
    patternText: '[\\w+=,.@:\\/-]*',
  });
  let durationSeconds = DEFAULT_MAX_SESSION_SECONDS;
  if (duration !== null) {
    durationSeconds = Number(duration);
    if (!/^-?[0-9]+$/.test(duration)) {
      problems.push(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must be an integer`,
      );
    } else if (durationSeconds < MIN_SESSION_SECONDS) {
      problems.push(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_SESSION_SECONDS}`,
      );
    } else if (durationSeconds > MAX_SESSION_SECONDS) {
      problems.push(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to ${MAX_SESSION_SECONDS}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new StsError(
      'ValidationError',
      `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
  return {
    roleArn: roleArn ?? '',
    roleSessionName: roleSessionName ?? '',
    durationSeconds,
    externalId: externalId ?? undefined,
  };
}

function checkString(
  problems: string[],
  member: string,
  value: string | null,
  rule: { min: number; max: number; required: boolean; pattern?: RegExp; patternText?: string },
): void {
  if (value === null) {
    if (rule.required)
      problems.push(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    return;
  }
  const shown = value.length > 128 ? `${value.slice(0, 128)}...` : value;
  if (value.length < rule.min) {
    problems.push(
      `Value '${shown}' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${rule.min}`,
    );
  } else if (value.length > rule.max) {
    problems.push(
      `Value '${shown}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${rule.max}`,
    );
  } else if (rule.pattern && !rule.pattern.test(value)) {
    problems.push(
      `Value '${shown}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${rule.patternText ?? ''}`,
    );
  }
}

/** Decides the request and issues the session; throws `StsError` for every refusal. */
export function assumeRole(
  sim: Simulator,
  caller: Caller,
  input: AssumeRoleInput,
): { role: RoleRecord; session: SessionRecord } {
  const match = ROLE_ARN_PATTERN.exec(input.roleArn);
  if (!match) {
    throw new StsError(
      'ValidationError',
      `${input.roleArn} is not a role ARN: expected arn:${sim.awsPartition}:iam::<12-digit account>:role/<path/>name`,
    );
  }
  const [, partition = '', account = '', , name = ''] = match;
  const path = match[3] ?? '/';
  const role = partition === sim.awsPartition ? sim.iam.findRole(account, name) : undefined;
  const trusted =
    role !== undefined &&
    role.name === name &&
    role.path === path &&
    role.trustedAccounts.includes(caller.account) &&
    (role.externalId === undefined || role.externalId === input.externalId);
  if (!role || !trusted) {
    throw new StsError(
      'AccessDenied',
      `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${input.roleArn}`,
    );
  }
  if (caller.kind === 'assumed-role' && input.durationSeconds > DEFAULT_MAX_SESSION_SECONDS) {
    throw new StsError(
      'ValidationError',
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    );
  }
  if (input.durationSeconds > role.maxSessionDuration) {
    throw new StsError(
      'ValidationError',
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }
  const session = sim.iam.issueSession(role, input.roleSessionName, input.durationSeconds, sim.now());
  sim.persist();
  return { role, session };
}
