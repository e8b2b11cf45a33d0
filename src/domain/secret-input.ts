import { errors } from './errors.js';
import { PLATFORMS, type Platform } from './model.js';

export const MAX_NAME_LENGTH = 255;

/** Trimmed, 1–255 characters of Unicode; control and format characters and unpaired surrogates are refused. */
export function normaliseSecretName(value: unknown): string {
  if (value === undefined || value === null) throw errors.parameterMissing('name');
  if (typeof value !== 'string') throw errors.parameterInvalid('name must be a string', 'name');
  const name = value.trim();
  if (name.length === 0) throw errors.parameterInvalid('name must not be blank', 'name');
  if ([...name].length > MAX_NAME_LENGTH)
    throw errors.parameterInvalid(`name must be at most ${MAX_NAME_LENGTH} characters`, 'name');
  if (!name.isWellFormed()) throw errors.parameterInvalid('name must be valid Unicode', 'name');

  // Format characters (bidi overrides and isolates, zero-width joiners and spaces, the BOM) change how a name displays
  // without being seen: an RTL override reverses it, a zero-width character makes a lookalike of another name.
  if (/[\p{Cc}\p{Cf}]/u.test(name))
    throw errors.parameterInvalid('name must not contain control or invisible formatting characters', 'name');
  return name;
}

export interface PlatformFlags {
  supportsWeb: boolean;
  supportsIos: boolean;
  supportsAndroid: boolean;
}

export function requireSomePlatform(flags: PlatformFlags): void {
  if (!flags.supportsWeb && !flags.supportsIos && !flags.supportsAndroid) {
    throw errors.parameterInvalid(
      'At least one platform must be enabled: set supports_web, supports_ios or supports_android to true',
      'supports_web',
    );
  }
}

/** The platforms a secret supports, in the fixed order web, ios, android. */
export function platformsOf(flags: PlatformFlags): Platform[] {
  const on: Record<Platform, boolean> = { web: flags.supportsWeb, ios: flags.supportsIos, android: flags.supportsAndroid };
  return PLATFORMS.filter((p) => on[p]);
}
