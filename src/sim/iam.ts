/**
 * Who is calling: the simulator's small model of IAM and STS credentials, shared by the KMS and
 * STS endpoints so that both answer "which account is this?" the way AWS does — from the access
 * key, never from anything the caller claims.
 *
 * - A long-term access key belongs to the IAM user `simulated` of an account. Keys registered
 *   through the control API belong to their account; every other key, whatever it looks like,
 *   belongs to the default account, so callers that predate accounts (any key, e.g. `test`) keep
 *   working unchanged. The simulator cannot tell a foreign temporary key from a long-term one: a
 *   key it did not issue is a long-term key.
 * - A role lives in an account, trusts a list of accounts, and may require an `ExternalId`.
 * - `AssumeRole` issues a session: an `ASIA…` access key, a secret and a session token, valid
 *   until its expiration, acting as `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`
 *   in the role's account. A session key must come with its token (else the token is "invalid")
 *   and before its expiration (else it is "expired"); see `authenticate`.
 *
 * Signatures are never verified, so secrets are issued but not checked.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** The IAM user every long-term access key is. */
export const SIMULATED_USER_NAME = 'simulated';
/** IAM's default MaxSessionDuration of a role, and the cap STS puts on role chaining. */
export const DEFAULT_MAX_SESSION_SECONDS = 3600;

export interface Caller {
  kind: 'user' | 'assumed-role';
  account: string;
  /** The principal ARN (IAM user or STS assumed-role session). */
  arn: string;
  /** `AIDA…` for a user; `<RoleId>:<RoleSessionName>` for a session. */
  userId: string;
  accessKeyId: string;
}

export interface RoleRecord {
  account: string;
  name: string;
  /** `/` or `/a/b/`. */
  path: string;
  roleId: string;
  trustedAccounts: string[];
  externalId?: string | undefined;
  maxSessionDuration: number;
  createdAt: number;
}

export interface SessionRecord {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  account: string;
  roleName: string;
  roleSessionName: string;
  /** `<RoleId>:<RoleSessionName>`. */
  assumedRoleId: string;
  arn: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  issuedAt: number;
}

export type AuthResult =
  { ok: true; caller: Caller } | { ok: false; reason: 'invalid-token' | 'expired-token' };

/** At most this many sessions are remembered; the oldest are forgotten first. */
export const SESSION_LIMIT = 100_000;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class Iam {
  /** Registered long-term access keys → account. */
  readonly accessKeys = new Map<string, string>();
  /** By `<account>/<lower-case role name>`: IAM role names are unique per account, ignoring case. */
  readonly roles = new Map<string, RoleRecord>();
  /** Issued temporary credentials, by access key id. */
  readonly sessions = new Map<string, SessionRecord>();

  constructor(
    readonly defaultAccount: string,
    readonly partition: string,
  ) {}

  clear(): void {
    this.accessKeys.clear();
    this.roles.clear();
    this.sessions.clear();
  }

  roleArn(role: RoleRecord): string {
    return `arn:${this.partition}:iam::${role.account}:role${role.path}${role.name}`;
  }

  findRole(account: string, name: string): RoleRecord | undefined {
    return this.roles.get(roleKey(account, name));
  }

  addRole(role: RoleRecord): void {
    this.roles.set(roleKey(role.account, role.name), role);
  }

  /** The account and principal of an access key (and its session token, for temporary keys). */
  authenticate(accessKeyId: string | undefined, sessionToken: string | undefined, now: number): AuthResult {
    const session = accessKeyId !== undefined ? this.sessions.get(accessKeyId) : undefined;
    if (session) {
      if (sessionToken !== session.sessionToken) return { ok: false, reason: 'invalid-token' };
      if (now >= session.expiresAt) return { ok: false, reason: 'expired-token' };
      return {
        ok: true,
        caller: {
          kind: 'assumed-role',
          account: session.account,
          arn: session.arn,
          userId: session.assumedRoleId,
          accessKeyId: session.accessKeyId,
        },
      };
    }
    const key = accessKeyId ?? '';
    const account = this.accessKeys.get(key) ?? this.defaultAccount;
    return {
      ok: true,
      caller: {
        kind: 'user',
        account,
        arn: `arn:${this.partition}:iam::${account}:user/${SIMULATED_USER_NAME}`,
        userId: userIdFor(key),
        accessKeyId: key,
      },
    };
  }

  /** Issues temporary credentials for a role session. */
  issueSession(
    role: RoleRecord,
    roleSessionName: string,
    durationSeconds: number,
    now: number,
  ): SessionRecord {
    let accessKeyId: string;
    do accessKeyId = `ASIA${randomBase32(16)}`;
    while (this.sessions.has(accessKeyId) || this.accessKeys.has(accessKeyId));
    const session: SessionRecord = {
      accessKeyId,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
      account: role.account,
      roleName: role.name,
      roleSessionName,
      assumedRoleId: `${role.roleId}:${roleSessionName}`,
      arn: `arn:${this.partition}:sts::${role.account}:assumed-role/${role.name}/${roleSessionName}`,
      // STS states expirations to the second.
      expiresAt: Math.floor(now / 1000) * 1000 + durationSeconds * 1000,
      issuedAt: now,
    };
    this.sessions.set(accessKeyId, session);
    while (this.sessions.size > SESSION_LIMIT) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }
}

function roleKey(account: string, name: string): string {
  return `${account}/${name.toLowerCase()}`;
}

/** A role's unique id as IAM writes them: `AROA` and 17 characters of A–Z, 2–7. */
export function newRoleId(): string {
  return `AROA${randomBase32(17)}`;
}

function randomBase32(length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += BASE32[randomInt(BASE32.length)];
  return text;
}

/**
 * An IAM user's unique id as IAM writes them (`AIDA` and 17 characters of A–Z, 2–7), derived from
 * the access key so that it is stable for a key and differs between keys.
 */
export function userIdFor(accessKeyId: string): string {
  const digest = createHash('sha256').update(`keystore-maint sim user id\n${accessKeyId}`).digest();
  let id = 'AIDA';
  for (let i = 0; i < 17; i++) id += BASE32[(digest[i] ?? 0) % 32];
  return id;
}
