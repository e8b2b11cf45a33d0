import type { Static } from 'typebox';
import type { AuditEventList } from '../http/schemas/audit.js';
import type { RotationBody, RotationList, RotationPolicyBody, RotationWithMaterialBody } from '../http/schemas/rotations.js';
import type {
  IdentityVerificationSecret,
  IdentityVerificationSecretDetail,
  IdentityVerificationSecretList,
  IdentityVerificationSecretUsage,
  IdentityVerificationSecretWithMaterial,
} from '../http/schemas/secrets.js';
import type {
  WebhookDeliveryBody,
  WebhookDeliveryList,
  WebhookEndpointBody,
  WebhookEndpointList,
  WebhookEndpointWithSecretBody,
} from '../http/schemas/webhooks.js';

export type SecretBody = Static<typeof IdentityVerificationSecret>;
export type SecretDetailBody = Static<typeof IdentityVerificationSecretDetail>;
export type CreatedSecretBody = Static<typeof IdentityVerificationSecretWithMaterial>;
export type UsageBody = Static<typeof IdentityVerificationSecretUsage>;
export type AuditListBody = Static<typeof AuditEventList>;
export type {
  RotationBody,
  RotationPolicyBody,
  RotationWithMaterialBody,
  WebhookDeliveryBody,
  WebhookEndpointBody,
  WebhookEndpointWithSecretBody,
};

export interface ApiClientOptions {
  url: string;
  token: string;
  intercomVersion: string;
  /** Per request; a hung connection must not hang a rotation forever. */
  timeoutMs?: number;
}

/** The server answered with an error: status, Intercom error code and message, and its request id for support. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** The server could not be reached, or timed out. */
export class ApiUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiUnreachableError';
  }
}

export interface CreateSecretParams {
  name: string;
  supports_web?: boolean;
  supports_ios?: boolean;
  supports_android?: boolean;
}

export interface UpdateSecretParams {
  name?: string;
  supports_web?: boolean;
  supports_ios?: boolean;
  supports_android?: boolean;
  expires_at?: number | null;
}

export interface StartRotationParams {
  secret_id: string;
  name?: string;
  idle_for?: number;
  deadline?: number;
  /** The server runs its rollout command with the new secret instead of returning it. */
  deliver?: boolean;
}

export interface CreateWebhookParams {
  url: string;
  events: string[];
  description?: string;
}

export interface UpdateRotationPolicyParams {
  max_age_days?: number | null;
  idle_for?: number;
  auto_rotate?: boolean;
}

export interface AuditQueryParams {
  since?: number;
  until?: number;
  actions?: string[];
  limit?: number;
  startingAfter?: string;
}

/**
 * The secrets API over HTTP, as Intercom and secure-mode both serve it (list, create, delete), plus secure-mode's
 * extensions (get, update, usage, audit events, rotations, the rotation policy, webhook endpoints), which Intercom
 * answers with 404 not_found.
 */
export class ApiClient {
  private readonly base: string;

  constructor(private readonly options: ApiClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  async listSecrets(): Promise<SecretBody[]> {
    return (await this.request<Static<typeof IdentityVerificationSecretList>>('GET', '/secure_mode_secrets')).data;
  }

  getSecret(id: string): Promise<SecretDetailBody> {
    return this.request('GET', `/secure_mode_secrets/${encodeURIComponent(id)}`);
  }

  createSecret(params: CreateSecretParams, idempotencyKey?: string): Promise<CreatedSecretBody> {
    return this.request(
      'POST',
      '/secure_mode_secrets',
      params,
      idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
    );
  }

  updateSecret(id: string, params: UpdateSecretParams): Promise<SecretBody> {
    return this.request('PUT', `/secure_mode_secrets/${encodeURIComponent(id)}`, params);
  }

  async deleteSecret(id: string, ifIdleForSeconds?: number): Promise<void> {
    const query = ifIdleForSeconds === undefined ? '' : `?if_idle_for=${ifIdleForSeconds}`;
    await this.request('DELETE', `/secure_mode_secrets/${encodeURIComponent(id)}${query}`);
  }

  usage(id: string, windowSeconds: number, bucketSeconds: number): Promise<UsageBody> {
    return this.request(
      'GET',
      `/secure_mode_secrets/${encodeURIComponent(id)}/usage?window=${windowSeconds}&bucket=${bucketSeconds}`,
    );
  }

  startRotation(params: StartRotationParams, idempotencyKey: string): Promise<RotationWithMaterialBody> {
    return this.request('POST', '/secure_mode_rotations', params, { 'idempotency-key': idempotencyKey });
  }

  async listRotations(): Promise<RotationBody[]> {
    return (await this.request<Static<typeof RotationList>>('GET', '/secure_mode_rotations')).data;
  }

  getRotation(id: string): Promise<RotationBody> {
    return this.request('GET', `/secure_mode_rotations/${encodeURIComponent(id)}`);
  }

  cancelRotation(id: string, keepNew: boolean): Promise<RotationBody> {
    return this.request('POST', `/secure_mode_rotations/${encodeURIComponent(id)}/cancel${keepNew ? '?keep_new=true' : ''}`);
  }

  completeRotation(id: string, force: boolean): Promise<RotationBody> {
    return this.request('POST', `/secure_mode_rotations/${encodeURIComponent(id)}/complete${force ? '?force=true' : ''}`);
  }

  getRotationPolicy(): Promise<RotationPolicyBody> {
    return this.request('GET', '/secure_mode_rotation_policy');
  }

  updateRotationPolicy(params: UpdateRotationPolicyParams): Promise<RotationPolicyBody> {
    return this.request('PUT', '/secure_mode_rotation_policy', params);
  }

  async listWebhooks(): Promise<WebhookEndpointBody[]> {
    return (await this.request<Static<typeof WebhookEndpointList>>('GET', '/webhook_endpoints')).data;
  }

  getWebhook(id: string): Promise<WebhookEndpointBody> {
    return this.request('GET', `/webhook_endpoints/${encodeURIComponent(id)}`);
  }

  createWebhook(params: CreateWebhookParams): Promise<WebhookEndpointWithSecretBody> {
    return this.request('POST', '/webhook_endpoints', params);
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.request('DELETE', `/webhook_endpoints/${encodeURIComponent(id)}`);
  }

  async webhookDeliveries(id: string): Promise<WebhookDeliveryBody[]> {
    return (
      await this.request<Static<typeof WebhookDeliveryList>>('GET', `/webhook_endpoints/${encodeURIComponent(id)}/deliveries`)
    ).data;
  }

  listAudit(query: AuditQueryParams): Promise<AuditListBody> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', String(query.since));
    if (query.until !== undefined) params.set('until', String(query.until));
    if (query.actions && query.actions.length > 0) params.set('action', query.actions.join(','));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.startingAfter !== undefined) params.set('starting_after', query.startingAfter);
    const qs = params.toString();
    return this.request('GET', `/audit_events${qs ? `?${qs}` : ''}`);
  }

  private async request<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json',
      'intercom-version': this.options.intercomVersion,
      ...extraHeaders,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ApiUnreachableError(`cannot reach ${this.base} (${cause})`);
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
    let code = 'http_error';
    let message = `HTTP ${res.status}`;
    let requestId = res.headers.get('x-request-id');
    try {
      const parsed = JSON.parse(text) as { request_id?: string; errors?: { code?: string; message?: string }[] };
      code = parsed.errors?.[0]?.code ?? code;
      message = parsed.errors?.[0]?.message ?? message;
      requestId = parsed.request_id ?? requestId;
    } catch {
      // Not an error.list (a proxy's HTML page, say): the status is all we can report.
    }
    throw new ApiRequestError(res.status, code, message, requestId);
  }
}
