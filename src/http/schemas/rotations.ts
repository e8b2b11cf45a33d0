import { Type, type Static } from 'typebox';
import { IntercomVersionHeader, Nullable } from './common.js';

const EXT = { 'x-secure-mode-extension': true };

const PlatformProgress = Type.Object({
  old_last_verified_at: Nullable('integer', { description: 'When the old secret last verified on this platform' }),
  new_last_verified_at: Nullable('integer', { description: 'When the new secret last verified on this platform' }),
});

export const Rotation = Type.Object(
  {
    type: Type.Literal('identity_verification_secret_rotation'),
    id: Type.String({ examples: ['7'] }),
    state: Type.String({ enum: ['rolling_out', 'cutting_over', 'completed', 'cancelled'] }),
    from_secret_id: Type.String({ description: 'The old secret' }),
    to_secret_id: Type.String({ description: 'The new secret (the successor)' }),
    idle_for: Type.Integer({ description: 'Seconds the old secret must verify nothing before the server deletes it' }),
    deadline: Nullable('integer', { description: 'When the rotation should be finished; past it, overdue is true' }),
    overdue: Type.Boolean(),
    created_at: Type.Integer(),
    updated_at: Type.Integer(),
    completed_at: Nullable('integer', { description: 'When it was completed or cancelled' }),
    platforms: Type.Object(
      { web: Type.Optional(PlatformProgress), ios: Type.Optional(PlatformProgress), android: Type.Optional(PlatformProgress) },
      { description: 'One entry per platform the old secret supports' },
    ),
    deliver: Type.Boolean({ description: 'The server rolls the new secret out with its rollout command' }),
    delivered_at: Nullable('integer', {
      description: 'When the rollout command first succeeded with the new secret; null until then (and without deliver)',
    }),
  },
  { ...EXT, description: 'A rotation from one secret to its successor, advanced by the server. Never carries a secret.' },
);
export type RotationBody = Static<typeof Rotation>;

export const RotationWithMaterial = Type.Object(
  {
    ...Rotation.properties,
    secret: Type.Optional(
      Type.String({
        description:
          "The new secret's value, base64url; returned only in this 201 (and its replay), and never with deliver: true",
      }),
    ),
  },
  { ...EXT, description: 'The started rotation with the successor secret, shown once (unless the server delivers it).' },
);
export type RotationWithMaterialBody = Static<typeof RotationWithMaterial>;

export const RotationList = Type.Object(
  { type: Type.Literal('list'), data: Type.Array(Rotation) },
  { ...EXT, description: 'Rotations, newest first' },
);

export const StartRotationRequest = Type.Object(
  {
    secret_id: Type.String({ description: 'The secret to rotate' }),
    name: Type.Optional(Type.String({ description: "The successor's name; default the old name plus the date" })),
    idle_for: Type.Optional(Type.Integer({ description: 'Seconds, 60 to 2592000, default 3600' })),
    deadline: Type.Optional(Nullable('integer', { description: 'Unix seconds in the future' })),
    deliver: Type.Optional(
      Type.Boolean({
        description:
          'true: the server runs its rollout command (SECURE_MODE_ROLLOUT_COMMAND) with the new secret instead of returning it; 422 when none is configured',
      }),
    ),
  },
  { ...EXT },
);

export const StartRotationHeaders = Type.Object({
  ...IntercomVersionHeader.properties,
  'idempotency-key': Type.Optional(
    Type.String({
      ...EXT,
      description:
        'As on POST /secure_mode_secrets: the same key with the same body replays the original 201 (secret included); with another body, 409 idempotency_key_reused.',
    }),
  ),
});

export const RotationIdParams = Type.Object({ id: Type.String({ description: 'The rotation id' }) });

export const CancelRotationQuery = Type.Object({
  keep_new: Type.Optional(
    Type.String({ enum: ['true', 'false'], ...EXT, description: 'Cancel even though the new secret verified, keeping it live' }),
  ),
});

export const CompleteRotationQuery = Type.Object({
  force: Type.Optional(
    Type.String({ enum: ['true', 'false'], ...EXT, description: 'Delete the old secret now, whatever its traffic' }),
  ),
});

export const RotationPolicy = Type.Object(
  {
    type: Type.Literal('secure_mode_rotation_policy'),
    max_age_days: Nullable('integer', {
      description: 'A live secret older than this many days is due for rotation (secret.due_for_rotation); null: never',
    }),
    idle_for: Type.Integer({
      description: 'idle_for of the rotations the server starts, and the default of POST /secure_mode_rotations',
    }),
    auto_rotate: Type.Boolean({ description: 'The server starts a delivering rotation of each due secret by itself' }),
    updated_at: Nullable('integer', { description: 'When the policy was last set; null: never (the defaults)' }),
  },
  { ...EXT, description: "The workspace's rotation policy" },
);
export type RotationPolicyBody = Static<typeof RotationPolicy>;

export const UpdateRotationPolicyRequest = Type.Object(
  {
    max_age_days: Type.Optional(Nullable('integer', { description: 'Days, 1 to 3650, or null (default)' })),
    idle_for: Type.Optional(Type.Integer({ description: 'Seconds, 60 to 2592000, default 3600' })),
    auto_rotate: Type.Optional(
      Type.Boolean({ description: 'Default false; true needs a rollout command on the server (else 422)' }),
    ),
  },
  { ...EXT, description: 'Fields left out keep their current value' },
);
