/**
 * The AWS checks, with the SDK's default credential chain as the worker has it: whose
 * credentials these are (STS GetCallerIdentity, which needs no permission), and KMS answering
 * DescribeCustomKeyStores in the Region. KMS has no dry run for ConnectCustomKeyStore and
 * DisconnectCustomKeyStore, and trying them would act on a store, so those permissions are not
 * tested: an informational line says how to check them with the IAM policy simulator.
 *
 * Both calls are made once (`maxAttempts: 1`) within the check's time limit. Endpoint overrides
 * (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_KMS`) are the SDK's own, and are named in the lines.
 */
import { DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createKmsClient } from '../kms/client';
import { classifyKmsError, iamActionFor } from '../kms/errors';
import {
  bounded,
  formatMs,
  messageOf,
  plural,
  result,
  shellWord,
  type CheckResult,
  type DoctorSettings,
} from './check';

/** What an AWS Region name looks like (us-east-1, eu-central-2, us-gov-west-1, cn-north-1, …). */
export const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const REGION_FIX =
  'set AWS_REGION to the Region of your custom key stores, e.g. AWS_REGION=us-east-1, or pass --region';

const CREDENTIALS_FIX =
  'give the process AWS credentials through the default chain: a role (ECS task role, EKS IRSA or Pod Identity, EC2 instance profile), ' +
  'AWS_PROFILE with a profile in ~/.aws/config (aws sso login for SSO), or a credentials file in AWS_SHARED_CREDENTIALS_FILE; ' +
  'against the simulator any AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY will do';

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'TimeoutError',
  'RequestTimeout',
  'CheckTimeoutError',
]);

interface Endpoint {
  readonly url: string;
  /** The variable that set it, when it is an override. */
  readonly override?: string;
}

interface Caller {
  readonly account: string;
  readonly arn: string;
}

/** Where the SDK sends a service's calls: an endpoint override, else the Region's public endpoint. */
function endpointOf(env: NodeJS.ProcessEnv, service: 'KMS' | 'STS', region: string): Endpoint {
  for (const variable of [`AWS_ENDPOINT_URL_${service}`, 'AWS_ENDPOINT_URL']) {
    const url = env[variable]?.trim();
    if (url) return { url, override: variable };
  }
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return { url: `https://${service.toLowerCase()}.${region}.${suffix}` };
}

function via(endpoint: Endpoint): string {
  return endpoint.override ? ` (${endpoint.override}=${endpoint.url})` : '';
}

/** The exception name, or the network error code (ECONNREFUSED, …). */
function errorName(err: unknown): string {
  return err instanceof Error && err.name === 'CheckTimeoutError' ? err.name : classifyKmsError(err).name;
}

function credentialsMissing(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'CredentialsProviderError' || /could not load credentials/i.test(err.message))
  );
}

/** An ARN `simulate-principal-policy` accepts: an assumed-role session stands for its role. */
export function policySourceArn(callerArn: string): { arn: string; note?: string } {
  const assumed = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  if (assumed) {
    return {
      arn: `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`,
      note: 'if the role has a path, insert it after role/',
    };
  }
  return { arn: callerArn };
}

export async function awsChecks(settings: DoctorSettings): Promise<CheckResult[]> {
  const { env, region, timeoutMs } = settings;
  const regionValid = region !== undefined && REGION_NAME.test(region);
  const results: CheckResult[] = [];

  // STS needs a Region too; without a usable one, ask the US East (N. Virginia) endpoint.
  const stsRegion = regionValid ? region : 'us-east-1';
  const stsEndpoint = endpointOf(env, 'STS', stsRegion);
  let caller: Caller | undefined;
  const sts = new STSClient({
    region: stsRegion,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: Math.min(3_000, timeoutMs), requestTimeout: timeoutMs },
  });
  try {
    const out = await bounded(timeoutMs, sts.send(new GetCallerIdentityCommand({})));
    caller = { account: out.Account ?? '(none)', arn: out.Arn ?? '(none)' };
    results.push(
      result('aws.credentials', 'ok', `account ${caller.account} as ${caller.arn}${via(stsEndpoint)}`),
    );
  } catch (err) {
    results.push(credentialsFailure(err, stsEndpoint, timeoutMs));
  } finally {
    sts.destroy();
  }

  let describeAllowed: boolean | undefined;
  if (region === undefined) {
    results.push(
      result(
        'aws.kms',
        'fail',
        'no AWS Region: AWS_REGION is not set and --region was not given (the worker refuses to start without one)',
        REGION_FIX,
      ),
    );
  } else if (!regionValid) {
    results.push(result('aws.kms', 'fail', `"${region}" is not an AWS Region name`, REGION_FIX));
  } else {
    const kmsEndpoint = endpointOf(env, 'KMS', region);
    const kms = createKmsClient({ region, requestTimeoutMs: timeoutMs });
    try {
      const out = await bounded(timeoutMs, kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1000 })));
      describeAllowed = true;
      const stores = out.CustomKeyStores ?? [];
      const byState = new Map<string, number>();
      for (const store of stores) {
        const state = store.ConnectionState ?? 'UNKNOWN';
        byState.set(state, (byState.get(state) ?? 0) + 1);
      }
      const states = [...byState].map(([state, n]) => `${n} ${state}`).join(', ');
      const count = `${plural(stores.length, 'custom key store')}${out.Truncated ? ' or more' : ''}`;
      results.push(
        result(
          'aws.kms',
          'ok',
          stores.length > 0
            ? `DescribeCustomKeyStores in ${region} answered: ${count} (${states})${via(kmsEndpoint)}`
            : `DescribeCustomKeyStores in ${region} answered: no custom key stores here (if yours are in another Region, set AWS_REGION)${via(kmsEndpoint)}`,
        ),
      );
    } catch (err) {
      if (errorName(err) === 'AccessDeniedException') describeAllowed = false;
      results.push(kmsFailure(err, region, kmsEndpoint, caller, timeoutMs));
    } finally {
      kms.destroy();
    }
  }

  results.push(iamPermissions(regionValid ? region : undefined, caller, describeAllowed));
  return results;
}

function credentialsFailure(err: unknown, endpoint: Endpoint, timeoutMs: number): CheckResult {
  const name = errorName(err);
  const fail = (detail: string, fix: string) => result('aws.credentials', 'fail', detail, fix);
  if (credentialsMissing(err)) {
    return fail(
      `no AWS credentials: the SDK's default provider chain found none (${messageOf(err)})`,
      CREDENTIALS_FIX,
    );
  }
  if (name === 'ExpiredToken' || name === 'ExpiredTokenException') {
    return fail(
      `the AWS credentials have expired (${name}: ${messageOf(err)})`,
      'refresh them: aws sso login, a new session token, or let a role provider renew them (do not pin temporary keys in the environment)',
    );
  }
  if (
    [
      'InvalidClientTokenId',
      'SignatureDoesNotMatch',
      'UnrecognizedClientException',
      'IncompleteSignature',
    ].includes(name)
  ) {
    return fail(
      `STS rejected the credentials (${name}: ${messageOf(err)})`,
      'the access key is unknown, deactivated or mistyped, or its secret is wrong: check which profile or variables the chain picks (AWS_PROFILE, AWS_ACCESS_KEY_ID) and renew the key',
    );
  }
  if (NETWORK_ERRORS.has(name)) {
    return fail(
      name === 'CheckTimeoutError'
        ? `no answer from STS at ${endpoint.url} within ${formatMs(timeoutMs)} (or the credential chain is still looking, e.g. for an instance metadata service that is not there)`
        : `cannot reach STS at ${endpoint.url} (${name}: ${messageOf(err)})`,
      endpoint.override
        ? `${endpoint.override} is set: start what it names (the simulator: keystore-maint sim) or unset it to reach AWS`
        : 'check the network path to STS (proxy, firewall, an STS VPC endpoint) and where the credentials come from; with the simulator set AWS_ENDPOINT_URL_STS to its URL',
    );
  }
  return fail(`GetCallerIdentity failed (${name}: ${messageOf(err)})`, CREDENTIALS_FIX);
}

function kmsFailure(
  err: unknown,
  region: string,
  endpoint: Endpoint,
  caller: Caller | undefined,
  timeoutMs: number,
): CheckResult {
  const name = errorName(err);
  const action = iamActionFor('DescribeCustomKeyStores');
  const who = caller?.arn ?? 'these credentials';
  const fail = (detail: string, fix: string) => result('aws.kms', 'fail', detail, fix);
  if (name === 'AccessDeniedException') {
    return fail(
      `access denied: ${who} may not call ${action} in ${region} (AccessDeniedException: ${messageOf(err)})`,
      `grant ${action} to ${who}: the ReadCustomKeyStores statement of docs/iam-policy.json ("Resource": "*", ${region} in aws:RequestedRegion); SCPs and permission boundaries must allow it too`,
    );
  }
  if (credentialsMissing(err)) {
    return fail(`no AWS credentials to call KMS with (${messageOf(err)})`, CREDENTIALS_FIX);
  }
  if (name === 'InvalidSignatureException' && /scoped to a valid region/i.test(messageOf(err))) {
    // The endpoint belongs to another Region than the one the request was signed for.
    return fail(
      `KMS at ${endpoint.url} does not serve ${region} (${name}: ${messageOf(err)})`,
      endpoint.override
        ? `${endpoint.override}=${endpoint.url} serves another Region: set AWS_REGION to that Region (the Region of your custom key stores), or point ${endpoint.override} at the endpoint of ${region}`
        : `the KMS endpoint (a VPC endpoint or proxy) serves another Region: ${REGION_FIX}`,
    );
  }
  if (name === 'UnrecognizedClientException' || name === 'InvalidSignatureException') {
    return fail(
      `KMS in ${region} does not accept these credentials (${name}: ${messageOf(err)})`,
      `the key is invalid, or ${region} is not enabled for the account (an opt-in Region): enable it, or ${REGION_FIX}`,
    );
  }
  if (NETWORK_ERRORS.has(name)) {
    const detail =
      name === 'CheckTimeoutError'
        ? `no answer from KMS at ${endpoint.url} in ${region} within ${formatMs(timeoutMs)}`
        : `cannot reach KMS at ${endpoint.url} in ${region} (${name}: ${messageOf(err)})`;
    const fix = endpoint.override
      ? `${endpoint.override}=${endpoint.url} is set (only for the simulator): start the simulator there (keystore-maint sim) or unset ${endpoint.override} to reach AWS KMS`
      : name === 'ENOTFOUND' || name === 'EAI_AGAIN'
        ? `${endpoint.url} does not resolve: is "${region}" the right Region? ${REGION_FIX}; or check DNS and the KMS VPC endpoint`
        : `check the network path to KMS (proxy, firewall, the KMS VPC endpoint), and that ${region} is the Region of your custom key stores`;
    return fail(detail, fix);
  }
  if (name === 'ThrottlingException') {
    return fail(
      `KMS throttled DescribeCustomKeyStores in ${region} (ThrottlingException): other callers are using the account's quota`,
      'run the doctor again in a moment; if it persists, find who calls the custom key store operations (CloudTrail) and see docs/operations.md, "Scaling workers"',
    );
  }
  return fail(
    `DescribeCustomKeyStores in ${region} failed (${name}: ${messageOf(err)})`,
    'see the message; docs/iam.md lists what the worker needs',
  );
}

function iamPermissions(
  region: string | undefined,
  caller: Caller | undefined,
  describeAllowed: boolean | undefined,
): CheckResult {
  const source = caller ? policySourceArn(caller.arn) : undefined;
  const principal = source?.arn ?? '<the worker role ARN>';
  const describe = iamActionFor('DescribeCustomKeyStores');
  const described =
    describeAllowed === true
      ? `${describe} is allowed (checked above)`
      : describeAllowed === false
        ? `${describe} is denied (above)`
        : `${describe} could not be checked (above)`;
  const regionEntry = region
    ? ` --context-entries ContextKeyName=aws:RequestedRegion,ContextKeyValues=${region},ContextKeyType=string`
    : '';
  return result(
    'aws.iam-permissions',
    'info',
    `${described}; ${iamActionFor('ConnectCustomKeyStore')} and ${iamActionFor('DisconnectCustomKeyStore')} are not checked: ` +
      'KMS has no dry run for them, and trying them would act on a store. These are the credentials the doctor runs with: ' +
      "run it where the worker runs, or ask about the worker's role",
    `aws iam simulate-principal-policy --policy-source-arn ${shellWord(principal)} ` +
      `--action-names kms:ConnectCustomKeyStore kms:DisconnectCustomKeyStore ${describe}${regionEntry}` +
      `${source?.note ? ` (${source.note})` : ''}; ` +
      'runs that drain through aliases also need kms:ListAliases, kms:UpdateAlias and kms:DescribeKey, and canaries ' +
      'kms:GenerateDataKey and kms:Decrypt: ask about those with --resource-arns of the keys (docs/iam.md)',
  );
}
