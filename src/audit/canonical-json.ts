/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, recursively), no whitespace. The hash
 * chain hashes this form, so the hash of an event does not depend on the key order a writer, a
 * JSON parser or PostgreSQL's jsonb happened to produce.
 *
 * Values follow JSON.stringify (undefined members are left out, `toJSON` is honoured) except that
 * non-finite numbers are refused: JSON.stringify would quietly turn them into `null`.
 */
export function canonicalJson(value: unknown): string {
  const text = canonical(value);
  if (text === undefined) throw new TypeError('canonicalJson: the value has no JSON form');
  return text;
}

function canonical(value: unknown): string | undefined {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    return canonical((value as { toJSON: () => unknown }).toJSON());
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError(`canonicalJson: ${value} has no JSON form`);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item) ?? 'null').join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member = canonical((value as Record<string, unknown>)[key]);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}
