/**
 * One HTTP request of a gate check, bounded in time and size, that never throws: the gate reads
 * either an answer or a stable phrase saying why there is none ("no answer within 10 s",
 * "ECONNREFUSED"). Redirects are never followed — a gate that moved is misconfigured, and
 * following would hand a signed request or a credential to whoever answers.
 */

/** Larger answers are not read (a Prometheus with tens of thousands of alerts is not a gate). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export type FetchOutcome =
  | { readonly ok: true; readonly status: number; readonly headers: Headers; readonly text: string }
  | { readonly ok: false; readonly error: string };

export async function fetchWithin(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<FetchOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  const noAnswer = () => (cancel?.aborted ? 'cancelled' : `no answer within ${formatSeconds(timeoutMs)}`);
  try {
    const response = await fetch(url, {
      method: init.method,
      ...(init.headers ? { headers: init.headers } : {}),
      ...(init.body !== undefined ? { body: init.body } : {}),
      redirect: 'manual',
      signal,
    });
    const text = await readCapped(response);
    if (text === undefined)
      return { ok: false, error: `the answer is larger than ${MAX_ANSWER_BYTES} bytes` };
    return { ok: true, status: response.status, headers: response.headers, text };
  } catch (err) {
    if (signal.aborted) return { ok: false, error: noAnswer() };
    return { ok: false, error: networkCause(err) };
  }
}

async function readCapped(response: Response): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** fetch() wraps the socket error (sometimes an AggregateError of several attempts) as `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; errors?: { code?: unknown }[]; message?: unknown } })
    .cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : 'connection failed';
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
