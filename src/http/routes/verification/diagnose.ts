import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Diagnoser } from '../../../domain/diagnose.js';
import { READ } from '../../../domain/scopes.js';
import { type GuardDeps, guard, workspaceOf } from '../../guard.js';
import { errorResponses } from '../../schemas/common.js';
import { DiagnoseRequest, DiagnosisResult, type DiagnosisResultBody } from '../../schemas/verification.js';

export interface DiagnoseRouteDeps extends GuardDeps {
  diagnoser: Diagnoser;
}

export const diagnoseRoute: FastifyPluginAsyncTypebox<DiagnoseRouteDeps> = async (app, deps) => {
  app.post(
    '/identity_verification/diagnose',
    {
      // Our own path, not one of Intercom's Preview paths: no Intercom-Version check.
      onRequest: guard(deps, { scope: READ, previewOnly: false }),
      schema: {
        operationId: 'diagnoseIdentityVerification',
        'x-secure-mode-extension': true,
        summary: 'Extension: explain why a user_hash or JWT does (not) verify, naming the secret that signed it',
        tags: ['Identity Verification'],
        body: DiagnoseRequest,
        response: { 200: DiagnosisResult, ...errorResponses({ guarded: true, readsBody: true, validated: true }) },
      },
    },
    async (request): Promise<DiagnosisResultBody> => {
      const d = await deps.diagnoser.diagnose(workspaceOf(request), request.body);
      const s = d.secret;
      return {
        type: 'identity_verification.diagnosis',
        verified: d.verified,
        method: d.method,
        user_id: d.userId,
        email: d.email,
        secret: s && {
          id: String(s.record.id),
          name: s.record.name,
          state: s.state,
          supports_web: s.record.supportsWeb,
          supports_ios: s.record.supportsIos,
          supports_android: s.record.supportsAndroid,
          deleted_at: s.record.deletedAt,
          expires_at: s.record.expiresAt,
        },
        causes: d.causes,
      };
    },
  );
};
