/** CreateAlias, UpdateAlias, DeleteAlias and ListAliases (filter and paging). */
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ListAliasesCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { kmsError, useSimulator } from './helpers';

const h = useSimulator({ quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

async function newKey(): Promise<string> {
  const id = (await h.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
  if (!id) throw new Error('no key id');
  return id;
}

describe('aliases', () => {
  it('creates, lists, retargets and deletes an alias', async () => {
    const first = await newKey();
    const second = await newKey();
    await h.kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: first }));
    const listed = await h.kms.send(new ListAliasesCommand({}));
    expect(listed.Aliases).toHaveLength(1);
    expect(listed.Aliases?.[0]).toMatchObject({
      AliasName: 'alias/app',
      AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app',
      TargetKeyId: first,
    });
    expect(listed.Aliases?.[0]?.CreationDate).toBeInstanceOf(Date);
    expect(listed.Aliases?.[0]?.LastUpdatedDate).toBeInstanceOf(Date);
    expect(listed.Truncated).toBe(false);

    await h.kms.send(
      new UpdateAliasCommand({
        AliasName: 'alias/app',
        TargetKeyId: `arn:aws:kms:us-east-1:111122223333:key/${second}`,
      }),
    );
    expect((await h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata?.KeyId).toBe(
      second,
    );
    const encrypted = await h.kms.send(
      new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('x') }),
    );
    expect(encrypted.KeyId).toContain(second);

    await h.kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    expect((await h.kms.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
    expect((await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' })))).name).toBe(
      'NotFoundException',
    );
  });

  it('filters by key and pages by name', async () => {
    const a = await newKey();
    const b = await newKey();
    for (const name of ['alias/e', 'alias/a', 'alias/c']) {
      await h.kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: a }));
    }
    for (const name of ['alias/d', 'alias/b'])
      await h.kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: b }));
    const forB = await h.kms.send(new ListAliasesCommand({ KeyId: b }));
    expect(forB.Aliases?.map((alias) => alias.AliasName)).toEqual(['alias/b', 'alias/d']);

    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await h.kms.send(new ListAliasesCommand({ Limit: 2, Marker: marker }));
      names.push(...(page.Aliases ?? []).map((alias) => alias.AliasName ?? ''));
      expect(page.Truncated).toBe(page.NextMarker !== undefined);
      marker = page.NextMarker;
      pages += 1;
    } while (marker);
    expect(names).toEqual(['alias/a', 'alias/b', 'alias/c', 'alias/d', 'alias/e']);
    expect(pages).toBe(3);

    const filteredPage = await h.kms.send(new ListAliasesCommand({ KeyId: a, Limit: 2 }));
    expect(filteredPage.Aliases?.map((alias) => alias.AliasName)).toEqual(['alias/a', 'alias/c']);
    const rest = await h.kms.send(
      new ListAliasesCommand({ KeyId: a, Limit: 2, Marker: filteredPage.NextMarker }),
    );
    expect(rest.Aliases?.map((alias) => alias.AliasName)).toEqual(['alias/e']);
    expect((await kmsError(h.kms.send(new ListAliasesCommand({ Marker: 'bogus' })))).name).toBe(
      'InvalidMarkerException',
    );
  });

  it.each([
    ['AlreadyExistsException', 'alias/dup', 'existing key'],
    ['InvalidAliasNameException', 'no-prefix', 'existing key'],
    ['InvalidAliasNameException', 'alias/aws/reserved', 'existing key'],
    ['ValidationException', 'alias/has space', 'existing key'],
    ['NotFoundException', 'alias/new', 'missing key'],
    ['NotFoundException', 'alias/new', 'alias as target'],
  ])('CreateAlias answers %s for %s (%s)', async (name, aliasName, target) => {
    const key = await newKey();
    await h.kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: key }));
    const targetKeyId =
      target === 'missing key'
        ? '00000000-0000-4000-8000-000000000000'
        : target === 'alias as target'
          ? 'alias/dup'
          : key;
    expect(
      (await kmsError(h.kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: targetKeyId }))))
        .name,
    ).toBe(name);
  });

  it('answers NotFoundException when updating or deleting a missing alias', async () => {
    const key = await newKey();
    expect(
      (await kmsError(h.kms.send(new UpdateAliasCommand({ AliasName: 'alias/none', TargetKeyId: key }))))
        .name,
    ).toBe('NotFoundException');
    expect((await kmsError(h.kms.send(new DeleteAliasCommand({ AliasName: 'alias/none' })))).name).toBe(
      'NotFoundException',
    );
    expect(
      (await kmsError(h.kms.send(new ListAliasesCommand({ KeyId: '00000000-0000-4000-8000-000000000000' }))))
        .name,
    ).toBe('NotFoundException');
  });
});
