/**
 * The control API's IAM routes: register long-term access keys to accounts, create roles for
 * AssumeRole, and inspect or expire the sessions it issued. Secrets and session tokens are never
 * shown: a test gets credentials the way a tool does, from AssumeRole.
 *
 *   GET  /_sim/access-keys                 {"accessKeys": [{AccessKeyId, Account, Arn}]}
 *   POST /_sim/access-keys                 {AccessKeyId, Account} → 201
 *   GET  /_sim/roles                       {"roles": [<role>]}
 *   POST /_sim/roles                       {RoleName, Account?, Path?, TrustedAccounts?, ExternalId?,
 *                                           MaxSessionDuration?} → 201 <role>
 *   GET  /_sim/sessions                    {"sessions": [<session>]}
 *   PATCH /_sim/sessions/:accessKeyId      {Expiration} → <session>
 */
import { accessKeyInputSchema, roleInputSchema, sessionPatchSchema } from './control-schemas';
import { ok, only, parse, type ControlResponse } from './control-http';
import { newRoleId, SIMULATED_USER_NAME, type RoleRecord, type SessionRecord } from './iam';
import type { JsonObject } from './protocol';
import { ControlError, type Simulator } from './simulator';

export const IAM_RESOURCES = ['access-keys', 'roles', 'sessions'] as const;

export interface IamRouteRequest {
  method: string;
  resource: string;
  id: string | undefined;
  body: string;
}

/** The answer of an IAM route, or undefined for a path it does not serve. */
export function handleIamRoute(sim: Simulator, request: IamRouteRequest): ControlResponse | undefined {
  const { method, resource, id, body } = request;
  if (resource === 'access-keys' && id === undefined) {
    return only(method, ['GET', 'POST'], () => {
      if (method === 'GET') {
        return ok({
          accessKeys: [...sim.iam.accessKeys].map(([key, account]) => accessKeyView(sim, key, account)),
        });
      }
      const input = parse(accessKeyInputSchema, body);
      const registered = sim.iam.accessKeys.get(input.AccessKeyId);
      if (registered !== undefined && registered !== input.Account) {
        throw new ControlError(
          409,
          'Conflict',
          `Access key ${input.AccessKeyId} already belongs to account ${registered}; use another key for ${input.Account}`,
          'AccessKeyId',
        );
      }
      if (sim.iam.sessions.has(input.AccessKeyId)) {
        throw new ControlError(
          409,
          'Conflict',
          `Access key ${input.AccessKeyId} is a session's key`,
          'AccessKeyId',
        );
      }
      sim.iam.accessKeys.set(input.AccessKeyId, input.Account);
      sim.persist();
      return { status: 201, body: accessKeyView(sim, input.AccessKeyId, input.Account) };
    });
  }
  if (resource === 'roles' && id === undefined) {
    return only(method, ['GET', 'POST'], () => {
      if (method === 'GET')
        return ok({ roles: [...sim.iam.roles.values()].map((role) => roleView(sim, role)) });
      const input = parse(roleInputSchema, body);
      const account = input.Account ?? sim.arn.account;
      if (sim.iam.findRole(account, input.RoleName)) {
        // IAM role names are unique in an account whatever their case or path.
        throw new ControlError(
          409,
          'Conflict',
          `Account ${account} already has a role named ${input.RoleName} (role names ignore case)`,
          'RoleName',
        );
      }
      const role: RoleRecord = {
        account,
        name: input.RoleName,
        path: input.Path ?? '/',
        roleId: newRoleId(),
        trustedAccounts: input.TrustedAccounts ?? [sim.arn.account],
        externalId: input.ExternalId,
        maxSessionDuration: input.MaxSessionDuration ?? 3600,
        createdAt: sim.now(),
      };
      sim.iam.addRole(role);
      sim.persist();
      return { status: 201, body: roleView(sim, role) };
    });
  }
  if (resource === 'sessions') {
    if (id === undefined) {
      return only(method, ['GET'], () =>
        ok({ sessions: [...sim.iam.sessions.values()].map((session) => sessionView(sim, session)) }),
      );
    }
    return only(method, ['PATCH'], () => {
      const session = sim.iam.sessions.get(id);
      if (!session) throw new ControlError(404, 'SessionNotFound', `No session with access key ${id}`, 'id');
      session.expiresAt = Date.parse(parse(sessionPatchSchema, body).Expiration);
      sim.persist();
      return ok(sessionView(sim, session));
    });
  }
  return undefined;
}

function accessKeyView(sim: Simulator, accessKeyId: string, account: string): JsonObject {
  return {
    AccessKeyId: accessKeyId,
    Account: account,
    Arn: `arn:${sim.awsPartition}:iam::${account}:user/${SIMULATED_USER_NAME}`,
  };
}

function roleView(sim: Simulator, role: RoleRecord): JsonObject {
  return {
    Arn: sim.iam.roleArn(role),
    RoleId: role.roleId,
    RoleName: role.name,
    Path: role.path,
    Account: role.account,
    TrustedAccounts: [...role.trustedAccounts],
    ExternalId: role.externalId,
    MaxSessionDuration: role.maxSessionDuration,
    CreateDate: new Date(role.createdAt).toISOString(),
  };
}

function sessionView(sim: Simulator, session: SessionRecord): JsonObject {
  return {
    AccessKeyId: session.accessKeyId,
    Account: session.account,
    Arn: session.arn,
    AssumedRoleId: session.assumedRoleId,
    RoleSessionName: session.roleSessionName,
    Expiration: new Date(session.expiresAt).toISOString(),
    Expired: sim.now() >= session.expiresAt,
  };
}
