export const SCOPES = ['read_secure_mode_secret', 'write_secure_mode_secret', 'read_all'] as const;
export type Scope = (typeof SCOPES)[number];

/** What an operation needs: any one of `anyOf`; `named` is the scope a 403 names. */
export interface ScopeRequirement {
  anyOf: readonly Scope[];
  named: Scope;
}

export const READ: ScopeRequirement = { anyOf: ['read_secure_mode_secret', 'read_all'], named: 'read_secure_mode_secret' };
export const WRITE: ScopeRequirement = { anyOf: ['write_secure_mode_secret'], named: 'write_secure_mode_secret' };

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Who am I (`GET /me`): any valid token of the workspace, whatever its scopes. */
export const ANY_TOKEN: ScopeRequirement = { anyOf: SCOPES, named: 'read_all' };
