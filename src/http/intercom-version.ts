import { errors } from '../domain/errors.js';
import { PREVIEW, isKnownVersion } from '../domain/api-version.js';

/** Throws the exact Intercom error for a version that cannot serve a Preview-only path. Case-sensitive on purpose. */
function assertPreviewVersion(requested: string): void {
  if (!isKnownVersion(requested)) throw errors.versionNotFound();
  if (requested !== PREVIEW && requested !== 'Unstable') throw errors.versionUnsupported();
}

/** The Intercom-Version header of a request, else the workspace's default, must name Preview (or Unstable). */
export function assertPreviewVersionHeader(header: string | string[] | undefined, workspaceDefault: string): void {
  // The app refuses a repeated header before any guard runs (repeated-headers.ts); an array, should one still arrive,
  // is ambiguous and treated as an unknown version rather than picking one.
  assertPreviewVersion(header === undefined ? workspaceDefault : Array.isArray(header) ? header.join(', ') : header);
}
