import { TransportError } from './error-status.js';

/**
 * Headers that decide who is asking, which version answers, whether a create replays and how the body is read. Node
 * keeps only the first Authorization or Content-Type and joins repeated Idempotency-Keys with ", ", so a request
 * carrying two would be read as one of them, or as a value nobody sent: such a request is refused instead.
 */
const SINGLETON_HEADERS: ReadonlyMap<string, string> = new Map(
  ['Authorization', 'Idempotency-Key', 'Intercom-Version', 'Content-Type'].map((name) => [name.toLowerCase(), name]),
);

/** The first singleton header that `rawHeaders` (name, value, name, value, …) carries more than once, if any. */
export function repeatedSingletonHeader(rawHeaders: readonly string[]): string | undefined {
  let seen: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = SINGLETON_HEADERS.get(rawHeaders[i]!.toLowerCase());
    if (name === undefined) continue;
    if (seen?.has(name)) return name;
    (seen ??= new Set()).add(name);
  }
  return undefined;
}

export function repeatedHeaderError(name: string): TransportError {
  return new TransportError(400, 'parameter_invalid', `${name} must be sent at most once`, name);
}
