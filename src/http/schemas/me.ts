import { Type, type Static } from 'typebox';

/** Intercom's `app` (a workspace), the fields secure-mode has. */
export const App = Type.Object(
  {
    type: Type.Literal('app'),
    id_code: Type.String({ description: "The workspace's app_id, as the Messenger and /identity_verification/verify use it" }),
    name: Type.String(),
    created_at: Type.Integer(),
    identity_verification: Type.Boolean({ description: 'Whether the workspace has a live identity verification secret' }),
  },
  { description: 'App is a workspace on Intercom' },
);

/** Intercom's `admin_with_app`; secure-mode has no teammates, so the admin is the access token itself. */
export const AdminWithApp = Type.Object(
  {
    type: Type.Literal('admin'),
    id: Type.String({ description: 'The access token id' }),
    name: Type.String({ description: 'The access token name' }),
    app: App,
  },
  { description: 'The access token that made the request, with its workspace' },
);
export type AdminWithAppBody = Static<typeof AdminWithApp>;
