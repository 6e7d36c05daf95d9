/**
 * Amazon SNS for notifications: one client per Region, with the worker's own credentials (a
 * notification is the worker's act, not a store account's), made like every AWS client of the
 * worker (`awsClientSettings`: SDK retries off — the notification activity retries with backoff).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { createHash } from 'node:crypto';
import type { NotificationEvent } from '../domain/notifications';
import { awsClientSettings } from '../aws/target-clients';

export type SnsClientProvider = (region: string) => SNSClient;

export interface SnsClientProviderOptions {
  /** Overrides `AWS_ENDPOINT_URL_SNS`; e.g. an emulator's URL. */
  readonly endpoint?: string;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

export function snsClientProvider(options: SnsClientProviderOptions = {}): SnsClientProvider {
  const clients = new Map<string, SNSClient>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = new SNSClient(awsClientSettings({ region, ...options }));
      clients.set(region, client);
    }
    return client;
  };
}

export type PublishOutcome =
  | { readonly ok: true; readonly messageId: string }
  | { readonly ok: false; readonly error: string; readonly retryable: boolean };

/**
 * Publishes one event. A FIFO topic (`.fifo`) gets the store as message group (its events stay
 * in order) and a deduplication id derived from the event id, so SNS itself drops a repeat
 * within its five-minute deduplication interval.
 */
export async function publishEvent(
  client: SNSClient,
  topicArn: string,
  input: { subject: string; message: string; event: NotificationEvent },
  signal?: AbortSignal,
): Promise<PublishOutcome> {
  const fifo = topicArn.endsWith('.fifo');
  try {
    const answer = await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: input.subject,
        Message: input.message,
        MessageAttributes: {
          event: { DataType: 'String', StringValue: input.event.event },
          eventId: { DataType: 'String', StringValue: input.event.eventId },
          customKeyStoreId: { DataType: 'String', StringValue: input.event.customKeyStoreId },
          phase: { DataType: 'String', StringValue: input.event.outcome ?? input.event.phase },
        },
        ...(fifo
          ? {
              MessageGroupId: input.event.customKeyStoreId,
              MessageDeduplicationId: createHash('sha256').update(input.event.eventId).digest('hex'),
            }
          : {}),
      }),
      signal ? { abortSignal: signal } : {},
    );
    return { ok: true, messageId: answer.MessageId ?? '(no MessageId)' };
  } catch (err) {
    return { ok: false, ...classifySnsError(err) };
  }
}

/** Throttling, server faults and no answer are worth another try; what SNS refuses is not. */
export function classifySnsError(err: unknown): { error: string; retryable: boolean } {
  const e = err as {
    name?: string;
    message?: string;
    $fault?: 'client' | 'server';
    $metadata?: { httpStatusCode?: number };
  };
  const name = e.name ?? 'Error';
  const message = `SNS Publish: ${name}: ${e.message ?? String(err)}`;
  const status = e.$metadata?.httpStatusCode;
  const retryable =
    status === undefined || e.$fault === 'server' || status >= 500 || status === 429 || /thrott/i.test(name);
  return { error: message, retryable };
}
