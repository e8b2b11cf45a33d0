import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../../../domain/errors.js';
import { ANY_TOKEN } from '../../../domain/scopes.js';
import { guard } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { AdminWithApp, type AdminWithAppBody } from '../../schemas/me.js';
import type { RouteDeps } from '../deps.js';

/** Intercom's identifyAdmin: clients (the console, scripts) learn the workspace's app_id from the token alone. */
export const meRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/me',
    {
      onRequest: guard(deps, { scope: ANY_TOKEN, previewOnly: false }),
      schema: {
        operationId: 'identifyAdmin',
        summary: 'Identify an admin: the access token and its workspace',
        tags: ['Admins'],
        headers: IntercomVersionHeader,
        response: {
          200: AdminWithApp, // Guarded, but any valid token passes: no scope, so no 403.
          ...errorResponses({ guarded: false, readsBody: false, validated: false }, 401, 429),
        },
      },
    },
    async (request): Promise<AdminWithAppBody> => {
      if (!request.auth) throw errors.unauthorized();
      const { token, workspace } = request.auth;
      const secrets = await deps.secrets.list(workspace);
      return {
        type: 'admin',
        id: String(token.id),
        name: token.name,
        app: {
          type: 'app',
          id_code: workspace.appId,
          name: workspace.name,
          created_at: workspace.createdAt,
          identity_verification: secrets.length > 0,
        },
      };
    },
  );
};
