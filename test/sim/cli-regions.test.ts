/** `keystore-maint sim --regions`: its errors name the flag and say how to fix it. */
import { describe, expect, it } from 'vitest';
import { checkRegions, parseRegions } from '../../src/commands/sim';

describe('keystore-maint sim --regions', () => {
  it('parses a comma-separated list, dropping blanks and duplicates', () => {
    expect(parseRegions('us-east-1, eu-west-1,,us-east-1')).toEqual(['us-east-1', 'eu-west-1']);
  });

  it('names the flag and an example when a Region is malformed or none is given', () => {
    expect(() => parseRegions('us-east-1,Frankfurt')).toThrow(
      /"Frankfurt" is not an AWS Region.*--regions us-east-1,eu-west-1/,
    );
    expect(() => parseRegions(' , ')).toThrow(/at least one Region/);
  });

  it('requires the default Region among them and says which flag to change', () => {
    expect(() => checkRegions(undefined, ['eu-west-1'])).toThrow(
      /--regions eu-west-1 must include the default Region us-east-1 \(--region\); add it, or pass --region eu-west-1/,
    );
    expect(() => checkRegions('eu-west-1', ['eu-west-1', 'eu-central-1'])).not.toThrow();
  });
});
