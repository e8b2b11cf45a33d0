import type { AuditService } from '../../domain/audit.js';
import type { Diagnoser } from '../../domain/diagnose.js';
import type { RotationPolicyService } from '../../domain/rotation-policy.js';
import type { RotationsService } from '../../domain/rotations.js';
import type { SecretsService } from '../../domain/secrets.js';
import type { Verifier } from '../../domain/verifier.js';
import type { WebhooksService } from '../../domain/webhooks.js';
import type { GuardDeps } from '../guard.js';
import type { VerifyRateLimitDeps } from '../verify-rate-limit.js';

/** What route plugins are given; each route takes only what it uses. */
export interface RouteDeps extends GuardDeps, VerifyRateLimitDeps {
  secrets: SecretsService;
  rotations: RotationsService;
  rotationPolicy: RotationPolicyService;
  audit: AuditService;
  webhooks: WebhooksService;
  verifier: Verifier;
  diagnoser: Diagnoser;
  diagnoseRateLimit: number;
}
