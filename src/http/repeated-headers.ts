import { TransportError } from './error-status.js';

/**
 * Headers that decide who is asking, which version answers, whether a create replays and how the body is read. Node
 * keeps only the first Authorization or Content-Type and joins repeated Idempotency-Keys with ", ", so a request
 * carrying two would be read as one of them, or as a value nobody sent: such a request is refused instead.
 */
const SINGLETON_NAMES = ['Authorization', 'Idempotency-Key', 'Intercom-Version', 'Content-Type'];
/** Lowercased name → its index in SINGLETON_NAMES (and its bit, 1 << index, in the mask of names seen). */
const SINGLETON_INDEX: ReadonlyMap<string, number> = new Map(SINGLETON_NAMES.map((name, i) => [name.toLowerCase(), i]));
/** Their lengths: a name of another length is none of them, without lowercasing it (this runs for every request). */
const SINGLETON_LENGTHS: ReadonlySet<number> = new Set(SINGLETON_NAMES.map((name) => name.length));

/** The first singleton header that `rawHeaders` (name, value, name, value, …) carries more than once, if any. */
export function repeatedSingletonHeader(rawHeaders: readonly string[]): string | undefined {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    if (!SINGLETON_LENGTHS.has(raw.length)) continue;
    const index = SINGLETON_INDEX.get(raw.toLowerCase());
    if (index === undefined) continue;
    if ((seen & (1 << index)) !== 0) return SINGLETON_NAMES[index];
    seen |= 1 << index;
  }
  return undefined;
}

export function repeatedHeaderError(name: string): TransportError {
  return new TransportError(400, 'parameter_invalid', `${name} must be sent at most once`, name);
}
