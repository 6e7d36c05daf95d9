import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditSecretRefusedError } from '../../src/audit/errors';
import { JsonlAuditSink } from '../../src/audit/jsonl-sink';
import { assertNoSecrets, findSecrets, redactSecrets } from '../../src/audit/secrets';
import { StdoutAuditSink } from '../../src/audit/stdout-sink';
import { makeEvent, STORE_A, workflowIdOf } from './support/events';

const WF = workflowIdOf(STORE_A);
const PEM = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA', '-----END RSA PRIVATE KEY-----'].join(
  '\n',
);

describe('the no-secrets guard', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['KMS Plaintext', { kms: { operation: 'GenerateDataKey' }, Plaintext: 'AAAA' }, 'detail.Plaintext'],
    ['a password', { password: 'hunter2' }, 'detail.password'],
    ['the CloudHSM key store password', { KeyStorePassword: 'x' }, 'detail.KeyStorePassword'],
    [
      'an XKS proxy credential',
      { XksProxyAuthenticationCredential: { AccessKeyId: 'AKIA', RawSecretAccessKey: 'x' } },
      'detail.XksProxyAuthenticationCredential',
    ],
    [
      'a nested raw secret access key',
      { proxy: { rawSecretAccessKey: 'x' } },
      'detail.proxy.rawSecretAccessKey',
    ],
    ['a webhook secret', { drain: { webhookSecret: 'x' } }, 'detail.drain.webhookSecret'],
    ['a session token in an array', { creds: [{ sessionToken: 'x' }] }, 'detail.creds[0].sessionToken'],
    ['a PEM private key value', { note: PEM }, 'detail.note'],
    ['a URL with a password', { target: 'postgres://app:s3cret@db:5432/x' }, 'detail.target'],
    ['a bearer token value', { header: 'Bearer abcdefghijklmnopqrstuvwxyz012345' }, 'detail.header'],
  ])('refuses %s', (_name, detail, path) => {
    const event = makeEvent(WF, 'r1', 1, { detail });
    expect(() => assertNoSecrets(event)).toThrow(AuditSecretRefusedError);
    try {
      assertNoSecrets(event);
    } catch (err) {
      const refused = err as AuditSecretRefusedError;
      expect(refused.paths).toContain(path);
      expect(refused.message).toContain(`${WF}/r1 seq 1`);
      // The message names the member, never the value.
      expect(refused.message).not.toMatch(/hunter2|s3cret|MIIEowIBAAKCAQEA|abcdefghijklmnop/);
    }
  });

  it('refuses a PEM private key in the error message too', () => {
    const event = makeEvent(WF, 'r1', 1, { error: { type: 'X', message: `bad key ${PEM}` } });
    expect(findSecrets(event).map((f) => f.path)).toEqual(['error.message']);
  });

  it.each<[string, Record<string, unknown>]>([
    ['ciphertext', { CiphertextBlob: 'AQIDAHh...', kms: { operation: 'Decrypt', requestId: 'r' } }],
    [
      'references to secrets',
      { passwordSecretArn: 'arn:aws:secretsmanager:...', secretId: 'x', webhookSecretName: 'n' },
    ],
    ['properties of secrets', { plaintextLength: 32, dataKeySpec: 'AES_256', credentialsProvider: 'env' }],
    ['an access key id', { accessKeyId: 'AKIAIOSFODNN7EXAMPLE' }],
    ['a redacted URL', { target: 'postgres://app:***@db:5432/x' }],
    ['a public key', { pem: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----' }],
    ['an empty password member', { password: null }],
  ])('allows %s', (_name, detail) => {
    expect(() => assertNoSecrets(makeEvent(WF, 'r1', 1, { detail }))).not.toThrow();
  });

  it('redactSecrets replaces what the guard would refuse', () => {
    const redacted = redactSecrets({
      a: 1,
      Plaintext: 'x',
      url: 'https://u:p@h/',
      nested: [{ apiKey: 'k' }],
    });
    expect(redacted).toEqual({
      a: 1,
      Plaintext: '[REDACTED]',
      url: '[REDACTED]',
      nested: [{ apiKey: '[REDACTED]' }],
    });
    expect(findSecrets(redacted)).toEqual([]);
  });

  describe('in a sink', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-secrets-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('writes nothing of a batch with a secret in it', async () => {
      const file = join(dir, 'trail.jsonl');
      const sink = new JsonlAuditSink(file);
      const good = makeEvent(WF, 'r1', 1);
      const bad = makeEvent(WF, 'r1', 2, { detail: { KeyStorePassword: 'kmsuser-password' } });
      await expect(sink.append([good, bad])).rejects.toThrow(AuditSecretRefusedError);
      expect(existsSync(file) ? readFileSync(file, 'utf8') : '').toBe('');
      expect(await sink.append([good])).toBe(1);
      await sink.close();
    });

    it('is applied by the stdout sink too, as a rejected promise', async () => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const bad = makeEvent(WF, 'r1', 1, { detail: { Plaintext: 'data key' } });
      await expect(new StdoutAuditSink(out).append([bad])).rejects.toThrow(AuditSecretRefusedError);
      expect(text).toBe('');
    });
  });
});
