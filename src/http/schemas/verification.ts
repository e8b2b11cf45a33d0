import { Type, type Static } from 'typebox';
import { DIAGNOSIS_CODES, type DiagnosisCode } from '../../domain/diagnose.js';
import { Nullable } from './common.js';

const EXT = { 'x-secure-mode-extension': true };

const Platform = Type.Union([Type.Literal('web'), Type.Literal('ios'), Type.Literal('android')], {
  description: 'Where the user signs in: the web Messenger or the iOS or Android SDK',
});

const identityFields = {
  platform: Platform,
  user_id: Type.Optional(Type.String({ minLength: 1, description: 'The user_id the Messenger was given' })),
  email: Type.Optional(Type.String({ minLength: 1, description: 'The email the Messenger was given' })),
  user_hash: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'HMAC-SHA256 of user_id (else email), keyed with the secret string, as hex (lowercase; web also accepts uppercase)',
    }),
  ),
  intercom_user_jwt: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 16_384,
      description: 'An HS256 JWT signed with the secret, with a string user_id claim',
    }),
  ),
};

export const VerifyRequest = Type.Object(
  { app_id: Type.String({ minLength: 1, maxLength: 200, description: "The workspace's app_id" }), ...identityFields },
  { ...EXT, description: 'Either user_hash with user_id and/or email, or intercom_user_jwt.' },
);
export type VerifyRequestBody = Static<typeof VerifyRequest>;

export const VerifyResult = Type.Object(
  {
    type: Type.Literal('identity_verification.result'),
    verified: Type.Literal(true),
    method: Type.Union([Type.Literal('user_hash'), Type.Literal('jwt')]),
    user_id: Nullable('string', {
      description:
        'The signed user_id: for a user_hash, the user_id it was computed over (null when it was computed over the email); for a JWT, its user_id claim',
    }),
    email: Nullable('string', {
      description:
        'The signed email: for a user_hash, the email only when no user_id was sent (the hash was computed over it), else null even if an email was sent beside it; for a JWT, its email claim or null. An unsigned field is never echoed.',
    }),
  },
  {
    ...EXT,
    description:
      'Only identity that was signed: a user_hash signs exactly one string (user_id when present, else email); a JWT signs its claims.',
  },
);
export type VerifyResultBody = Static<typeof VerifyResult>;

export const DiagnoseRequest = Type.Object(
  {
    app_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "The app_id the client used; defaults to the token's workspace" }),
    ),
    ...identityFields,
  },
  { ...EXT, description: 'The same body as verify; app_id may be left out.' },
);
export type DiagnoseRequestBody = Static<typeof DiagnoseRequest>;

const DiagnosedSecret = Type.Object({
  id: Type.String(),
  name: Type.String(),
  state: Type.Union([Type.Literal('live'), Type.Literal('deleted'), Type.Literal('expired')]),
  supports_web: Type.Boolean(),
  supports_ios: Type.Boolean(),
  supports_android: Type.Boolean(),
  deleted_at: Nullable('integer'),
  expires_at: Nullable('integer'),
});

export const DiagnosisResult = Type.Object(
  {
    type: Type.Literal('identity_verification.diagnosis'),
    verified: Type.Boolean({ description: 'Whether POST /identity_verification/verify would accept this body now' }),
    method: Type.Union([Type.Literal('user_hash'), Type.Literal('jwt')]),
    user_id: Nullable('string', {
      description: 'The identity the value signs (as verify would return it), never an unsigned field',
    }),
    email: Nullable('string', {
      description: 'The identity the value signs (as verify would return it), never an unsigned field',
    }),
    secret: Type.Unsafe<Static<typeof DiagnosedSecret> | null>({
      ...DiagnosedSecret,
      nullable: true,
      description: 'The secret that signed the value (possibly deleted, expired or not enabled for the platform), if any did',
    }),
    causes: Type.Array(
      Type.Object({ code: Type.Unsafe<DiagnosisCode>({ type: 'string', enum: DIAGNOSIS_CODES }), message: Type.String() }),
      { description: 'Why it fails, most likely cause first; empty when verified' },
    ),
  },
  { ...EXT },
);
export type DiagnosisResultBody = Static<typeof DiagnosisResult>;
