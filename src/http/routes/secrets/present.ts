import type { SecretView } from '../../../domain/secrets.js';
import type { IdentityVerificationSecretBody } from '../../schemas/secrets.js';

export function presentSecret(view: SecretView): IdentityVerificationSecretBody {
  const r = view.record;
  return {
    type: 'identity_verification_secret',
    id: String(r.id),
    name: r.name,
    supports_android: r.supportsAndroid,
    supports_ios: r.supportsIos,
    supports_web: r.supportsWeb,
    created_at: r.createdAt,
    last_verified_at: view.lastVerifiedAt,
    expires_at: r.expiresAt,
  };
}
