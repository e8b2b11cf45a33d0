import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { RATE_WINDOW_SECONDS } from '../../../domain/rate-limiter.js';
import { errors } from '../../../domain/errors.js';
import type { Diagnoser } from '../../../domain/diagnose.js';
import { READ } from '../../../domain/scopes.js';
import { type GuardDeps, guard, workspaceOf } from '../../guard.js';
import { errorResponses } from '../../schemas/common.js';
import { DiagnoseRequest, DiagnosisResult, type DiagnosisResultBody } from '../../schemas/verification.js';

export interface DiagnoseRouteDeps extends GuardDeps {
  diagnoser: Diagnoser;
  /** Diagnoses per workspace per window (SECURE_MODE_DIAGNOSE_RATE_LIMIT). */
  diagnoseRateLimit: number;
}

/**
 * A diagnosis tries every known secret under several encodings: tens of HMACs where a verification does one. Its
 * own budget per workspace, far below the admin limit, keeps a read token from spending the node's CPU on it.
 */
async function limitDiagnosis(deps: DiagnoseRouteDeps, workspaceId: number, reply: FastifyReply): Promise<void> {
  const nowMs = deps.clock.nowMs();
  const limit = await deps.rateLimiter.hit(`diagnose:${workspaceId}`, deps.diagnoseRateLimit, nowMs);
  if (limit.allowed) return;
  reply.header('x-ratelimit-limit', String(limit.limit));
  reply.header('x-ratelimit-remaining', String(limit.remaining));
  reply.header('x-ratelimit-reset', String(limit.reset));
  reply.header('retry-after', String(Math.max(1, limit.reset - Math.floor(nowMs / 1000))));
  throw errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS);
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
        response: { 200: DiagnosisResult, ...errorResponses(400, 401, 403, 413, 422, 429, 503) },
      },
    },
    async (request, reply): Promise<DiagnosisResultBody> => {
      const workspace = workspaceOf(request);
      await limitDiagnosis(deps, workspace.id, reply);
      const d = await deps.diagnoser.diagnose(workspace, request.body);
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
