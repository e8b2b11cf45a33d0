import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { IdentityVerificationSecretUsage, SecretIdParams, UsageQuery } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';

export const secretUsageRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_secrets/:id/usage',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'getIdentityVerificationSecretUsage',
        'x-secure-mode-extension': true,
        summary: 'Extension: verifications per platform over time (what a rotation watches)',
        tags: ['Identity Verification Secrets'],
        headers: IntercomVersionHeader,
        params: SecretIdParams,
        querystring: UsageQuery,
        response: {
          200: IdentityVerificationSecretUsage,
          ...errorResponses({ guarded: true, readsBody: false, validated: true }, 404),
        },
      },
    },
    async (request) => {
      const { window, bucket } = request.query;
      const series = await deps.secrets.usageSeries(
        workspaceOf(request),
        request.params.id,
        window === undefined ? 86_400 : Number(window),
        bucket === undefined ? 3_600 : Number(bucket),
      );
      return {
        type: 'identity_verification_secret.usage' as const,
        id: String(series.record.id),
        window_seconds: series.windowSeconds,
        bucket_seconds: series.bucketSeconds,
        last_verified_at: series.lastVerifiedAt,
        buckets: series.buckets.map((b) => ({ start: b.start, ...b.counts })),
      };
    },
  );
};
