import { TransportError } from './error-status.js';

/**
 * Headers that decide who is asking, which version answers, whether a create replays and how the body is read. Node
 * keeps only the first Authorization or Content-Type and joins repeated Idempotency-Keys with ", ", so a request
 * carrying two would be read as one of them, or as a value nobody sent: such a request is refused instead.
 */
const SINGLETON_NAMES = ['Authorization', 'Idempotency-Key', 'Intercom-Version', 'Content-Type'];
/** Lowercased name → its bit in the mask of names seen. */
const SINGLETON_BITS: ReadonlyMap<string, number> = new Map(SINGLETON_NAMES.map((name, i) => [name.toLowerCase(), 1 << i]));
/** Their lengths: a name of another length is none of them, without lowercasing it (this runs for every request). */
const SINGLETON_LENGTHS: ReadonlySet<number> = new Set(SINGLETON_NAMES.map((name) => name.length));

/** The first singleton header that `rawHeaders` (name, value, name, value, …) carries more than once, if any. */
export function repeatedSingletonHeader(rawHeaders: readonly string[]): string | undefined {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    if (!SINGLETON_LENGTHS.has(raw.length)) continue;
    const bit = SINGLETON_BITS.get(raw.toLowerCase());
    if (bit === undefined) continue;
    if ((seen & bit) !== 0) return SINGLETON_NAMES[Math.log2(bit)];
    seen |= bit;
  }
  return undefined;
}

export function repeatedHeaderError(name: string): TransportError {
  return new TransportError(400, 'parameter_invalid', `${name} must be sent at most once`, name);
}
