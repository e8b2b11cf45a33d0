/** Who asked for a change, for the audit log: the token (never its value), the client address and the request id. */
export interface Actor {
  tokenId: number | null;
  ip: string | null;
  requestId: string | null;
}

export const SYSTEM_ACTOR: Actor = { tokenId: null, ip: null, requestId: null };
