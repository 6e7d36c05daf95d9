/**
 * `Limit`/`Marker` paging as KMS does it: at most `Limit` items (default 100), `Truncated: true`
 * and an opaque `NextMarker` when more follow. A marker names the last item returned, so paging
 * stays correct when items are added or removed between pages. A marker that is not one of ours
 * (or belongs to another listing) is an `InvalidMarkerException`.
 */
import { KmsError } from './protocol';

export const DEFAULT_LIMIT = 100;

export interface Page<T> {
  items: T[];
  nextMarker?: string | undefined;
  truncated: boolean;
}

/**
 * Pages through `items`, already sorted by `position` (ascending, unique). `kind` ties a marker to
 * its listing.
 */
export function paginate<T>(
  items: readonly T[],
  position: (item: T) => string | number,
  kind: string,
  limit: number | undefined,
  marker: string | undefined,
): Page<T> {
  const size = limit ?? DEFAULT_LIMIT;
  let start = 0;
  if (marker !== undefined) {
    const after = decodeMarker(kind, marker);
    start = items.findIndex((item) => compare(position(item), after) > 0);
    if (start < 0) start = items.length;
  }
  const pageItems = items.slice(start, start + size);
  const truncated = start + size < items.length;
  const last = pageItems[pageItems.length - 1];
  return {
    items: pageItems,
    truncated,
    nextMarker: truncated && last !== undefined ? encodeMarker(kind, position(last)) : undefined,
  };
}

function encodeMarker(kind: string, position: string | number): string {
  return Buffer.from(JSON.stringify([kind, position]), 'utf8').toString('base64url');
}

function decodeMarker(kind: string, marker: string): string | number {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      decoded[0] === kind &&
      (typeof decoded[1] === 'string' || typeof decoded[1] === 'number')
    ) {
      return decoded[1];
    }
  } catch {
    // fall through: not one of our markers
  }
  throw new KmsError('InvalidMarkerException', 'The request was rejected because the marker is not valid.');
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
