/**
 * Injected faults: a rule per KMS operation (or `*` for every KMS operation) that answers with a
 * chosen exception and/or adds latency, after the quota check and before the operation runs. The
 * STS endpoint's `GetCallerIdentity` takes rules that name it (sts-api.ts); `*` does not reach it.
 *
 * - `count` only: fires on the next `count` matching requests.
 * - `probability` only: fires on each matching request with that probability, until cleared.
 * - both: fires with that probability, at most `count` times.
 * - neither: fires once.
 *
 * Rules are checked in the order they were added; latency of every firing rule adds up, and the
 * first firing rule with an `errorType` decides the answer (later rules are not consulted, so they
 * are not used up).
 *
 * `when` (default `before`): a `before` rule acts before the operation runs (its latency delays
 * the operation; its exception means the operation never happened). An `after` rule acts once the
 * operation has taken effect: its latency delays only the answer, and its exception replaces the
 * answer — the caller hears an error although KMS acted, as after a lost or failed response.
 */
import { randomUUID } from 'node:crypto';
import { KmsError } from './protocol';

export interface FaultSpec {
  /** A KMS operation name, `*` for every KMS operation, or `GetCallerIdentity` (STS). */
  operation: string;
  /** Exception name to answer with; omit for a latency-only fault. */
  errorType?: string | undefined;
  message?: string | undefined;
  count?: number | undefined;
  probability?: number | undefined;
  latencyMs?: number | undefined;
  when?: 'before' | 'after' | undefined;
}

export interface Fault extends FaultSpec {
  id: string;
  /** How many times it has fired. */
  fired: number;
  /** How many more times it may fire; undefined = unlimited (a probability without a count). */
  remaining?: number | undefined;
}

export interface FaultDecision {
  /** Before the operation runs. */
  latencyMs: number;
  error?: KmsError | undefined;
  /** After the operation took effect, before the answer. */
  latencyAfterMs: number;
  errorAfter?: KmsError | undefined;
}

export class FaultInjector {
  private faults: Fault[] = [];

  add(spec: FaultSpec): Fault {
    const remaining = spec.count ?? (spec.probability === undefined ? 1 : undefined);
    const fault: Fault = { ...spec, id: randomUUID(), fired: 0, remaining };
    this.faults.push(fault);
    return fault;
  }

  list(): readonly Fault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((fault) => fault.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
  }

  /**
   * What the faults do to one request. `wildcard: false` consults only rules naming `operation`
   * itself, not `*` ones (the STS endpoint: `*` means every KMS operation).
   */
  decide(
    operation: string,
    random: () => number = Math.random,
    { wildcard = true }: { wildcard?: boolean } = {},
  ): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0, latencyAfterMs: 0 };
    for (const fault of this.faults) {
      const matches = fault.operation === operation || (wildcard && fault.operation === '*');
      if (!matches) continue;
      if (fault.probability !== undefined && random() >= fault.probability) continue;
      fault.fired += 1;
      if (fault.remaining !== undefined) fault.remaining -= 1;
      const after = fault.when === 'after';
      if (after) decision.latencyAfterMs += fault.latencyMs ?? 0;
      else decision.latencyMs += fault.latencyMs ?? 0;
      if (fault.errorType) {
        const message = fault.message ?? `Injected fault: ${fault.errorType} for ${operation}`;
        if (after) decision.errorAfter = new KmsError(fault.errorType, message);
        else decision.error = new KmsError(fault.errorType, message);
        break;
      }
    }
    this.prune();
    return decision;
  }

  private prune(): void {
    this.faults = this.faults.filter((fault) => fault.remaining === undefined || fault.remaining > 0);
  }
}

/**
 * Runs one request of a non-KMS service (STS, CloudWatch, CloudHSM v2) under the faults that name
 * its operation — never `*` ones, which are about KMS — with their latency before and after, and
 * their exception made by `errorOf` in that service's own shape.
 */
export async function underFaults<T>(
  sim: { readonly faults: FaultInjector; sleep(ms: number): Promise<void> },
  operation: string,
  errorOf: (type: string, message: string) => Error,
  run: () => T,
): Promise<T> {
  const fault = sim.faults.decide(operation, Math.random, { wildcard: false });
  await sim.sleep(fault.latencyMs);
  if (fault.error) throw errorOf(fault.error.type, fault.error.message);
  const value = run();
  await sim.sleep(fault.latencyAfterMs);
  if (fault.errorAfter) throw errorOf(fault.errorAfter.type, fault.errorAfter.message);
  return value;
}
