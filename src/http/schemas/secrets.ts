import { Type, type Static } from 'typebox';
import { IntercomVersionHeader, Nullable } from './common.js';

const EXT = { 'x-secure-mode-extension': true };

export const IdentityVerificationSecret = Type.Object(
  {
    type: Type.Literal('identity_verification_secret', { description: 'value is "identity_verification_secret"' }),
    id: Type.String({ description: 'The id of the secret', examples: ['102'] }),
    name: Type.String({ description: 'Human-readable name for the secret, used to identify it in rotation flows' }),
    supports_android: Type.Boolean({ description: 'Whether the secret is enabled for the Android SDK' }),
    supports_ios: Type.Boolean({ description: 'Whether the secret is enabled for the iOS SDK' }),
    supports_web: Type.Boolean({ description: 'Whether the secret is enabled for the Messenger on web' }),
    created_at: Type.Integer({ description: 'The time the secret was created, as a Unix timestamp' }),
    last_verified_at: Nullable('integer', {
      ...EXT,
      description: 'Extension: when the secret last verified a user_hash or JWT, as a Unix timestamp; null if never',
    }),
    expires_at: Nullable('integer', {
      ...EXT,
      description: 'Extension: when the secret stops verifying and is retired, as a Unix timestamp; null if never',
    }),
  },
  { description: 'Metadata for an HMAC secret used to sign user_hash values. The secret itself is never returned here.' },
);
export type IdentityVerificationSecretBody = Static<typeof IdentityVerificationSecret>;

export const IdentityVerificationSecretWithMaterial = Type.Object(
  {
    ...IdentityVerificationSecret.properties,
    secret: Type.String({
      description: 'The 256-bit HMAC signing key, base64url-encoded. Returned ONCE at creation time and never surfaced again.',
    }),
  },
  { description: 'Returned once, at creation time. Includes the raw secret: persist it immediately.' },
);

export const IdentityVerificationSecretList = Type.Object({
  type: Type.Literal('list'),
  data: Type.Array(IdentityVerificationSecret),
});

const PlatformUsage = Type.Object({ web: Type.Integer(), ios: Type.Integer(), android: Type.Integer() });

export const IdentityVerificationSecretDetail = Type.Object(
  {
    ...IdentityVerificationSecret.properties,
    usage: Type.Object(
      { last_hour: PlatformUsage, last_day: PlatformUsage, last_week: PlatformUsage },
      { description: 'Successful verifications per platform' },
    ),
    readable: Type.Boolean({
      ...EXT,
      description:
        'Extension: false when the stored ciphertext no longer opens under the configured master keys (a damaged row): the secret is left out of verification until it is deleted and replaced',
    }),
  },
  { ...EXT },
);

export const CreateSecretRequest = Type.Object(
  {
    name: Type.String({ description: 'Human-readable name for the secret.' }),
    supports_android: Type.Optional(Type.Boolean({ description: 'Enable this secret for the Android SDK.' })),
    supports_ios: Type.Optional(Type.Boolean({ description: 'Enable this secret for the iOS SDK.' })),
    supports_web: Type.Optional(Type.Boolean({ description: 'Enable this secret for the Messenger on web.' })),
  },
  { description: 'At least one platform flag must be true.' },
);
export type CreateSecretRequestBody = Static<typeof CreateSecretRequest>;

export const SecretIdParams = Type.Object({
  id: Type.String({ description: 'The unique identifier of the identity verification secret' }),
});

export const DeleteSecretQuery = Type.Object({
  if_idle_for: Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,9}$',
      ...EXT,
      description: 'Extension: refuse with 409 while the secret verified traffic within this many seconds',
    }),
  ),
});

export const CreateSecretHeaders = Type.Object({
  ...IntercomVersionHeader.properties,
  'idempotency-key': Type.Optional(
    Type.String({
      ...EXT,
      description:
        'Extension: 1–255 printable ASCII characters. Within the replay window, the same key with the same body replays the original 201 (secret included, header Idempotent-Replayed: true); with a different body, 409 idempotency_key_reused.',
    }),
  ),
});

export const UpdateSecretRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'New human-readable name.' })),
    supports_android: Type.Optional(Type.Boolean()),
    supports_ios: Type.Optional(Type.Boolean()),
    supports_web: Type.Optional(Type.Boolean()),
    expires_at: Type.Optional(
      Nullable('integer', {
        minimum: 0,
        maximum: 253402300799,
        description: 'Unix seconds in the future at which the secret stops verifying and is retired; null cancels.',
      }),
    ),
  },
  { ...EXT, description: 'Fields to change; at least one platform stays enabled.' },
);

export const UsageQuery = Type.Object({
  window: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'Seconds of history, default 86400' })),
  bucket: Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,9}$',
      description: 'Bucket width in seconds, a multiple of 60, default 3600; at most 1000 buckets',
    }),
  ),
});

export const IdentityVerificationSecretUsage = Type.Object(
  {
    type: Type.Literal('identity_verification_secret.usage'),
    id: Type.String(),
    window_seconds: Type.Integer(),
    bucket_seconds: Type.Integer(),
    last_verified_at: Nullable('integer'),
    buckets: Type.Array(
      Type.Object({ start: Type.Integer(), web: Type.Integer(), ios: Type.Integer(), android: Type.Integer() }),
      { description: 'Oldest first; every bucket present; the last one holds the current time' },
    ),
  },
  { ...EXT, description: 'Successful verifications per platform over time' },
);

export type IdentityVerificationSecretWithMaterialBody = Static<typeof IdentityVerificationSecretWithMaterial>;
export type IdentityVerificationSecretDetailBody = Static<typeof IdentityVerificationSecretDetail>;
export type UpdateSecretRequestBody = Static<typeof UpdateSecretRequest>;
export type IdentityVerificationSecretUsageBody = Static<typeof IdentityVerificationSecretUsage>;
