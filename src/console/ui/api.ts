import { describeApiError, networkErrorMessage } from './api-error.js';
import type { AuditFilter, AuditPage } from './audit.js';
import { auditPath } from './audit.js';
import type {
  IdentityVerificationSecretDetailBody,
  IdentityVerificationSecretWithMaterialBody,
  UpdateSecretRequestBody,
} from '../../http/schemas/secrets.js';
import type { AdminWithAppBody } from '../../http/schemas/me.js';
import type { Platform, Secret } from './format.js';
import { type Rotation, type StartRotationInput, type StartedRotation, cancelPath, completePath } from './rotations.js';
import type { UsageSeries, UsageWindow } from './usage.js';
import type { PolicyInput, RotationPolicy } from './policy.js';
import {
  type CreateWebhookInput,
  type CreatedWebhookEndpoint,
  type WebhookDelivery,
  type WebhookEndpoint,
  endpointPath,
} from './webhooks.js';

/** A failed request, already turned into a sentence for people. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly codes: string[] = [],
    readonly field: string | null = null,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export type SecretDetail = IdentityVerificationSecretDetailBody;

export type CreatedSecret = IdentityVerificationSecretWithMaterialBody;

export interface SecretInput {
  name: string;
  supports_web: boolean;
  supports_ios: boolean;
  supports_android: boolean;
}

export type SecretUpdate = UpdateSecretRequestBody;

export type Me = AdminWithAppBody;

/**
 * POST /identity_verification/diagnose, as the console uses it. Spelled out here rather than imported: the schema
 * module takes its cause codes from the domain, which the browser bundle's type-check cannot load.
 */
export interface DiagnoseInput {
  platform: Platform;
  user_id?: string;
  email?: string;
  user_hash?: string;
  intercom_user_jwt?: string;
}

export interface Diagnosis {
  type: 'identity_verification.diagnosis';
  verified: boolean;
  method: 'user_hash' | 'jwt';
  user_id: string | null;
  email: string | null;
  secret: { id: string; name: string; state: string; deleted_at: number | null; expires_at: number | null } | null;
  causes: Array<{ code: string; message: string }>;
}

/** The console's only way to the server: same origin, bearer token, no cookies, nothing cached. */
export class ApiClient {
  constructor(
    private readonly token: string,
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.token}`,
      // The /secure_mode_secrets paths are Preview-only; say so rather than depend on the workspace default.
      'intercom-version': 'Preview',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
      });
    } catch {
      throw new ApiFailure(0, networkErrorMessage());
    }
    const text = await response.text();
    if (!response.ok) {
      const d = describeApiError(response.status, text);
      if (response.status === 401) this.onUnauthorized();
      throw new ApiFailure(response.status, d.message, d.codes, d.field, d.requestId);
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiFailure(response.status, 'The server sent an answer the console cannot read.');
    }
  }

  listSecrets(): Promise<{ type: 'list'; data: Secret[] }> {
    return this.request('GET', '/secure_mode_secrets');
  }

  getSecret(id: string): Promise<SecretDetail> {
    return this.request('GET', `/secure_mode_secrets/${encodeURIComponent(id)}`);
  }

  createSecret(input: SecretInput): Promise<CreatedSecret> {
    return this.request('POST', '/secure_mode_secrets', input);
  }

  updateSecret(id: string, update: SecretUpdate): Promise<Secret> {
    return this.request('PUT', `/secure_mode_secrets/${encodeURIComponent(id)}`, update);
  }

  deleteSecret(id: string): Promise<void> {
    return this.request('DELETE', `/secure_mode_secrets/${encodeURIComponent(id)}`);
  }

  usage(id: string, window: UsageWindow): Promise<UsageSeries> {
    return this.request(
      'GET',
      `/secure_mode_secrets/${encodeURIComponent(id)}/usage?window=${window.window}&bucket=${window.bucket}`,
    );
  }

  auditEvents(filter: AuditFilter, startingAfter: string | null): Promise<AuditPage> {
    return this.request('GET', auditPath(filter, startingAfter));
  }

  listRotations(): Promise<{ type: 'list'; data: Rotation[] }> {
    return this.request('GET', '/secure_mode_rotations');
  }

  startRotation(input: StartRotationInput): Promise<StartedRotation> {
    return this.request('POST', '/secure_mode_rotations', input);
  }

  cancelRotation(id: string, keepNew: boolean): Promise<Rotation> {
    return this.request('POST', cancelPath(id, keepNew));
  }

  completeRotation(id: string, force: boolean): Promise<Rotation> {
    return this.request('POST', completePath(id, force));
  }

  getRotationPolicy(): Promise<RotationPolicy> {
    return this.request('GET', '/secure_mode_rotation_policy');
  }

  putRotationPolicy(input: PolicyInput): Promise<RotationPolicy> {
    return this.request('PUT', '/secure_mode_rotation_policy', input);
  }

  listWebhookEndpoints(): Promise<{ type: 'list'; data: WebhookEndpoint[] }> {
    return this.request('GET', '/webhook_endpoints');
  }

  createWebhookEndpoint(input: CreateWebhookInput): Promise<CreatedWebhookEndpoint> {
    return this.request('POST', '/webhook_endpoints', input);
  }

  deleteWebhookEndpoint(id: string): Promise<void> {
    return this.request('DELETE', endpointPath(id));
  }

  listWebhookDeliveries(id: string): Promise<{ type: 'list'; data: WebhookDelivery[] }> {
    return this.request('GET', endpointPath(id, '/deliveries'));
  }

  me(): Promise<Me> {
    return this.request('GET', '/me');
  }

  diagnose(input: DiagnoseInput): Promise<Diagnosis> {
    return this.request('POST', '/identity_verification/diagnose', input);
  }
}
