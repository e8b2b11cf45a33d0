/**
 * Versioned schema for SQLite. Each entry runs once, in order, inside a transaction; the applied version is kept
 * in PRAGMA user_version. Never edit an entry that has shipped: add a new one.
 */
export const sqliteMigrations: readonly string[] = [
  `
  CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    default_version TEXT NOT NULL,
    rate_limit INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE TABLE secrets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    supports_web INTEGER NOT NULL,
    supports_ios INTEGER NOT NULL,
    supports_android INTEGER NOT NULL,
    ciphertext BLOB NOT NULL,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    deleted_at INTEGER,
    deleted_reason TEXT,
    last_verified_at INTEGER
  );
  CREATE INDEX secrets_workspace_live ON secrets (workspace_id) WHERE deleted_at IS NULL;
  CREATE INDEX secrets_expiry ON secrets (expires_at) WHERE deleted_at IS NULL AND expires_at IS NOT NULL;
  CREATE INDEX secrets_key_id ON secrets (key_id);
  CREATE TABLE secret_usage (
    secret_id INTEGER NOT NULL REFERENCES secrets(id),
    platform TEXT NOT NULL,
    minute INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (secret_id, platform, minute)
  ) WITHOUT ROWID;
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    actor_token_id INTEGER,
    ip TEXT,
    request_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    details TEXT
  );
  CREATE INDEX audit_events_workspace ON audit_events (workspace_id, id);
  CREATE TABLE idempotency_keys (
    workspace_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
  );
  `,
  `
  CREATE TABLE rotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    from_secret_id INTEGER NOT NULL REFERENCES secrets(id),
    to_secret_id INTEGER NOT NULL REFERENCES secrets(id),
    idle_for INTEGER NOT NULL,
    deadline INTEGER,
    state TEXT NOT NULL,
    overdue INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER
  );
  CREATE INDEX rotations_workspace ON rotations (workspace_id, id);
  CREATE INDEX rotations_open ON rotations (id) WHERE state IN ('rolling_out', 'cutting_over');
  `,
  // The access token whose create an Idempotency-Key record keeps: only that token may replay it. Records written
  // before this column hold null, as creates without a token (the system) do, so no access token replays them.
  `ALTER TABLE idempotency_keys ADD COLUMN token_id INTEGER;`,
  // Webhooks (docs/events.md). Deliveries are the outbox's rows, queued with their audit event; times in ms. A secret
  // remembers the expires_at it was warned of (secret.expiring), so the warning is raised once per expiry date.
  `
  CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret_ciphertext BLOB NOT NULL,
    key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
  );
  CREATE INDEX webhook_endpoints_workspace_live ON webhook_endpoints (workspace_id) WHERE deleted_at IS NULL;
  -- The subscriptions again, one row per type, so that queuing an event matches them with an index.
  CREATE TABLE webhook_endpoint_events (
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    event_type TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
  ) WITHOUT ROWID;
  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    audit_id INTEGER NOT NULL REFERENCES audit_events(id),
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    UNIQUE (endpoint_id, audit_id)
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
  CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    attempted_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    state TEXT NOT NULL
  );
  CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
  ALTER TABLE secrets ADD COLUMN expiry_warned_for INTEGER;
  `,
  // Rollout delivery (the server runs SECURE_MODE_ROLLOUT_COMMAND with the successor) and the rotation policy.
  // A run is claimed (delivery_claim, until delivery_claimed_until_ms) so that one node runs it at a time; the
  // policy's due mark says secret.due_for_rotation was raised, and which rotation the policy started, once each.
  `
  ALTER TABLE rotations ADD COLUMN deliver INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rotations ADD COLUMN delivered_at INTEGER;
  ALTER TABLE rotations ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rotations ADD COLUMN delivery_next_at_ms INTEGER;
  ALTER TABLE rotations ADD COLUMN delivery_claim TEXT;
  ALTER TABLE rotations ADD COLUMN delivery_claimed_until_ms INTEGER;
  CREATE INDEX rotations_delivery ON rotations (delivery_next_at_ms) WHERE delivery_next_at_ms IS NOT NULL;
  CREATE TABLE rotation_policies (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id),
    max_age_days INTEGER,
    idle_for INTEGER NOT NULL,
    auto_rotate INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE secret_rotation_due (
    secret_id INTEGER PRIMARY KEY REFERENCES secrets(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    raised_at INTEGER NOT NULL,
    rotation_id INTEGER REFERENCES rotations(id)
  );
  `,
];
