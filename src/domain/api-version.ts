/** Intercom's published versions; the secure_mode_secrets paths exist only in Preview (Unstable is its alias). */
export const STABLE_VERSIONS = [
  '1.0',
  '1.1',
  '1.2',
  '1.3',
  '1.4',
  '2.0',
  '2.1',
  '2.2',
  '2.3',
  '2.4',
  '2.5',
  '2.6',
  '2.7',
  '2.8',
  '2.9',
  '2.10',
  '2.11',
  '2.12',
  '2.13',
  '2.14',
  '2.15',
  '2.16',
] as const;
export const PREVIEW = 'Preview';
export const KNOWN_VERSIONS: readonly string[] = [...STABLE_VERSIONS, PREVIEW, 'Unstable'];

export function isKnownVersion(value: string): boolean {
  return KNOWN_VERSIONS.includes(value);
}
