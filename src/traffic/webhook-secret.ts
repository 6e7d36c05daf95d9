/**
 * The webhook secret lives with the worker only: in an environment variable, or in a file named
 * by `<variable>_FILE` (a mounted secret). Workflow input names at most which variable, never
 * the secret, so it never reaches history, logs or the audit.
 */
import { readFileSync } from 'node:fs';
import { WEBHOOK_SECRET_ENV } from '../domain/traffic';

export type WebhookSecretSource = (variable: string) => string | undefined;

export function webhookSecretFromEnvironment(env: NodeJS.ProcessEnv = process.env): WebhookSecretSource {
  return (variable = WEBHOOK_SECRET_ENV) => {
    const direct = env[variable];
    if (direct) return direct;
    const file = env[`${variable}_FILE`];
    if (!file) return undefined;
    const fromFile = readFileSync(file, 'utf8').trim();
    return fromFile || undefined;
  };
}
