import type { AuditService } from '../../domain/audit.js';
import type { SecretsService } from '../../domain/secrets.js';
import type { GuardDeps } from '../plugins/guard.js';

/** What route plugins are given; each route takes only what it uses. */
export interface RouteDeps extends GuardDeps {
  secrets: SecretsService;
  audit: AuditService;
}
