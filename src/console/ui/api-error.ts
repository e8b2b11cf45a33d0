/** Turns any failed API answer into one sentence a person can act on; never shows raw JSON. */

export interface ErrorDescription {
  message: string;
  codes: string[];
  field: string | null;
  requestId: string | null;
}

interface ErrorItem {
  code?: unknown;
  message?: unknown;
  field?: unknown;
}

const STATUS_MESSAGES: Readonly<Record<number, string>> = {
  401: 'Access Token Invalid',
  403: 'This access token is not allowed to do that.',
  404: 'Not found.',
  413: 'The request is too large.',
  429: 'Too many requests; wait a few seconds and try again.',
  502: 'The server is unreachable behind its proxy (502); try again shortly.',
  503: 'The service is temporarily unavailable; try again shortly.',
  504: 'The server took too long to answer (504); try again shortly.',
};

function fallback(status: number): string {
  return (
    STATUS_MESSAGES[status] ??
    (status >= 500 ? `The server failed (HTTP ${status}); try again shortly.` : `The request failed (HTTP ${status}).`)
  );
}

export function describeApiError(status: number, bodyText: string): ErrorDescription {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const body = parsed as { type?: unknown; errors?: unknown; request_id?: unknown } | undefined;
  const requestId = typeof body?.request_id === 'string' ? body.request_id : null;
  const items = body?.type === 'error.list' && Array.isArray(body.errors) ? (body.errors as ErrorItem[]) : [];
  const codes = items.map((e) => (typeof e.code === 'string' ? e.code : '')).filter(Boolean);
  const messages = items.map((e) => (typeof e.message === 'string' ? e.message.trim() : '')).filter(Boolean);
  const field = items.map((e) => (typeof e.field === 'string' ? e.field : null)).find((f) => f !== null) ?? null;
  let message = messages.length > 0 ? messages.map((m) => (/[.!?]$/.test(m) ? m : `${m}.`)).join(' ') : fallback(status);
  // An unknown path means this server predates the feature: say so rather than a bare "Resource not found".
  if (codes.length === 1 && codes[0] === 'not_found')
    message = 'This secure-mode server does not offer this feature (Resource not found).';
  return { message, codes, field, requestId };
}

export function networkErrorMessage(): string {
  return 'Could not reach secure-mode. Check that the server is running and your connection, then try again.';
}
