/**
 * The account of the worker's own credentials, from STS GetCallerIdentity: a request that names
 * an account but no execution role says "the store is in this account, and the worker's own
 * credentials are in it too". The worker checks that before its first KMS call for the store,
 * so a wrong account fails loudly instead of acting on whatever account the credentials are in.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

/** The worker's own account as seen from a Region. */
export type CallerAccountProvider = (region: string) => Promise<string>;

export function callerAccountProvider(
  options: { readonly credentials?: AwsCredentialIdentity; readonly stsEndpoint?: string } = {},
): CallerAccountProvider {
  const answers = new Map<string, Promise<string>>();
  return (region) => {
    let answer = answers.get(region);
    if (!answer) {
      const sts = new STSClient({
        region,
        maxAttempts: 3,
        ...(options.credentials ? { credentials: options.credentials } : {}),
        ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
      });
      answer = sts
        .send(new GetCallerIdentityCommand({}))
        .then((out) => {
          if (!out.Account) throw new Error('STS GetCallerIdentity returned no Account');
          return out.Account;
        })
        .finally(() => sts.destroy());
      // A failed lookup is asked again next time rather than remembered.
      answer.catch(() => answers.delete(region));
      answers.set(region, answer);
    }
    return answer;
  };
}
