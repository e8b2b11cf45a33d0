import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { errors } from '../domain/errors.js';
import type { Actor } from '../domain/actor.js';
import { assertPreviewVersionHeader } from './intercom-version.js';
import type { Clock } from '../domain/clock.js';
import { RATE_WINDOW_SECONDS, type RateLimiter } from '../domain/rate-limiter.js';
import type { ScopeRequirement } from '../domain/scopes.js';
import type { Authenticated, WorkspaceService } from '../domain/workspaces.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: Authenticated | null;
  }
}

export interface GuardDeps {
  workspaces: WorkspaceService;
  rateLimiter: RateLimiter;
  clock: Clock;
}

export interface GuardOptions {
  scope: ScopeRequirement;
  /** Intercom's Preview-only paths check Intercom-Version; our own extensions of them do too. */
  previewOnly: boolean;
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/**
 * The authenticated route guard, in Intercom's order: token (401, no rate-limit headers), then the workspace's
 * rate limit (headers on every answer from here on), then API version (400), then scope (403).
 */
export function guard(deps: GuardDeps, options: GuardOptions): onRequestHookHandler {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const value = bearerToken(request.headers.authorization);
    const auth = value === undefined ? undefined : await deps.workspaces.authenticate(value);
    if (!auth) throw errors.unauthorized();
    request.auth = auth;

    const limit = await deps.rateLimiter.hit(`ws:${auth.workspace.id}`, auth.workspace.rateLimit, deps.clock.nowMs());
    reply.header('x-ratelimit-limit', String(limit.limit));
    reply.header('x-ratelimit-remaining', String(limit.remaining));
    reply.header('x-ratelimit-reset', String(limit.reset));
    if (!limit.allowed) throw errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS);

    if (options.previewOnly) {
      assertPreviewVersionHeader(request.headers['intercom-version'], auth.workspace.defaultVersion);
    }

    if (!options.scope.anyOf.some((s) => auth.token.scopes.includes(s))) throw errors.forbidden(options.scope.named);
  };
}

export function actorOf(request: FastifyRequest): Actor {
  return { tokenId: request.auth?.token.id ?? null, ip: request.ip, requestId: request.id };
}

/** The authenticated workspace; routes behind guard() always have one. */
export function workspaceOf(request: FastifyRequest) {
  if (!request.auth) throw errors.unauthorized();
  return request.auth.workspace;
}
