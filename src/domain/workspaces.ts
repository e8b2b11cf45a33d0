import { generateAccessToken, generateAppId } from '../crypto/random.js';
import { hashToken } from '../crypto/token-hash.js';
import type { AccessToken, NewToken, TokenAudit, Workspace } from './model.js';
import type { Store } from './ports.js';
import type { Actor } from './actor.js';
import { SYSTEM_ACTOR } from './actor.js';
import { PREVIEW, isKnownVersion } from './api-version.js';
import { type Clock, nowSeconds } from './clock.js';
import { DomainError } from './errors.js';
import { SCOPES, isScope } from './scopes.js';

export interface NewWorkspaceOptions {
  name: string;
  defaultVersion?: string;
  rateLimit?: number;
}

export interface Authenticated {
  token: AccessToken;
  workspace: Workspace;
}

export const DEFAULT_RATE_LIMIT = 1000;
const MIN_TOKEN_LENGTH = 20;

/** Workspaces and their access tokens. Token values exist only in the return value of createToken. */
export class WorkspaceService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly defaultRateLimit: number;

  constructor(deps: { store: Store; clock: Clock; defaultRateLimit?: number }) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.defaultRateLimit = deps.defaultRateLimit ?? DEFAULT_RATE_LIMIT;
  }

  async createWorkspace(options: NewWorkspaceOptions): Promise<Workspace> {
    return this.store.createWorkspace(this.newWorkspace(options));
  }

  private newWorkspace(options: NewWorkspaceOptions): Omit<Workspace, 'id'> {
    const name = options.name.trim();
    if (name.length === 0 || name.length > 255)
      throw new DomainError('parameter_invalid', 'workspace name must be 1 to 255 characters', 'name');
    const defaultVersion = options.defaultVersion ?? PREVIEW;
    if (!isKnownVersion(defaultVersion))
      throw new DomainError('parameter_invalid', `unknown API version ${defaultVersion}`, 'default_version');
    const rateLimit = options.rateLimit ?? this.defaultRateLimit;
    if (!Number.isInteger(rateLimit) || rateLimit < 1)
      throw new DomainError('parameter_invalid', 'rate limit must be a positive integer', 'rate_limit');
    return { appId: generateAppId(), name, defaultVersion, rateLimit, createdAt: nowSeconds(this.clock) };
  }

  listWorkspaces(): Promise<Workspace[]> {
    return this.store.listWorkspaces();
  }

  async requireWorkspace(appId: string): Promise<Workspace> {
    const workspace = await this.store.findWorkspaceByAppId(appId);
    if (!workspace) throw new DomainError('parameter_invalid', `no workspace with app_id ${appId}`, 'workspace');
    return workspace;
  }

  /** Creates a token; `value` lets automation choose it (SECURE_MODE_BOOTSTRAP_TOKEN). The value is returned once. */
  async createToken(
    workspace: Workspace,
    scopes: string[],
    name: string,
    actor: Actor = SYSTEM_ACTOR,
    value: string = generateAccessToken(),
  ): Promise<{ token: AccessToken; value: string }> {
    const { audit, ...input } = this.newToken(scopes, name, actor, value);
    const token = await this.store.createToken({ ...input, workspaceId: workspace.id }, audit);
    return { token, value };
  }

  private newToken(scopes: string[], name: string, actor: Actor, value: string): NewToken & { audit: TokenAudit } {
    if (scopes.length === 0)
      throw new DomainError('parameter_invalid', `give at least one scope of: ${SCOPES.join(', ')}`, 'scopes');
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length > 0)
      throw new DomainError('parameter_invalid', `unknown scope ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`, 'scopes');
    if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
      throw new DomainError(
        'parameter_invalid',
        `a token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
        'token',
      );
    }
    const at = nowSeconds(this.clock);
    return {
      name,
      tokenHash: hashToken(value),
      scopes: [...new Set(scopes)],
      createdAt: at,
      audit: {
        ...actorFields(actor),
        action: 'token.created',
        targetType: 'token',
        at,
        details: { name, scopes: scopes.join(' ') },
      },
    };
  }

  listTokens(workspaceId?: number): Promise<AccessToken[]> {
    return this.store.listTokens(workspaceId);
  }

  revokeToken(id: number, actor: Actor = SYSTEM_ACTOR): Promise<AccessToken | undefined> {
    const at = nowSeconds(this.clock);
    return this.store.revokeToken(id, at, { ...actorFields(actor), action: 'token.revoked', targetType: 'token', at });
  }

  async authenticate(value: string): Promise<Authenticated | undefined> {
    if (value.length < MIN_TOKEN_LENGTH || value.length > 512) return undefined;
    return this.store.findTokenByHash(hashToken(value));
  }

  /**
   * On an empty database: a default workspace and an all-scopes token. Returns the token value only when this
   * call generated it, so the caller can print it once.
   */
  async bootstrap(givenToken?: string): Promise<{ workspace: Workspace; token: string; generated: boolean } | undefined> {
    const value = givenToken ?? generateAccessToken();
    const workspace = await this.store.bootstrapWorkspace(
      this.newWorkspace({ name: 'Default workspace' }),
      this.newToken([...SCOPES], 'bootstrap', SYSTEM_ACTOR, value),
    );
    return workspace && { workspace, token: value, generated: givenToken === undefined };
  }
}

export function actorFields(actor: Actor): { actorTokenId: number | null; ip: string | null; requestId: string | null } {
  return { actorTokenId: actor.tokenId, ip: actor.ip, requestId: actor.requestId };
}
