import { ApiFailure, type ApiClient } from './api.js';
import { type Child, h, timeEl } from './dom.js';
import { PLATFORM_LABELS, type Secret, formatDateTime, platformsOf, relativeTime, secretState } from './format.js';

/** What every view gets from the shell. */
export interface Ctx {
  api: ApiClient;
  nowS(): number;
  /** A polite, visible status line that survives page changes (e.g. "Secret deleted"). */
  announce(message: string): void;
}

export function errorText(err: unknown): { message: string; requestId: string | null } {
  if (err instanceof ApiFailure) return { message: err.message, requestId: err.requestId };
  return {
    message: `The console hit an unexpected problem: ${err instanceof Error ? err.message : String(err)}`,
    requestId: null,
  };
}

/** A readable error: the API's own message, and the request id for whoever reads the server logs. */
export function errorBox(err: unknown, prefix?: string): HTMLDivElement {
  const { message, requestId } = errorText(err);
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, prefix ? `${prefix}: ${message}` : message),
    requestId ? h('p', { class: 'muted small' }, `Request id ${requestId}`) : null,
  );
}

export function loading(text: string): HTMLParagraphElement {
  return h('p', { class: 'muted loading', role: 'status' }, text);
}

/** Shows a loading line in `content`, then the secrets; on failure a readable error there, and undefined. */
export async function loadSecretsInto(ctx: Ctx, content: HTMLElement): Promise<Secret[] | undefined> {
  content.replaceChildren(loading('Loading secrets…'));
  try {
    return (await ctx.api.listSecrets()).data;
  } catch (err) {
    content.replaceChildren(errorBox(err, 'Could not load the secrets'));
    return undefined;
  }
}

export function pageHeader(title: string, intro: Child, ...actions: Child[]): HTMLElement {
  return h(
    'div',
    { class: 'page-header' },
    h('div', {}, h('h1', { tabindex: '-1' }, title), intro ? h('p', { class: 'intro' }, intro) : null),
    actions.length > 0 ? h('div', { class: 'actions' }, ...actions) : null,
  );
}

export function button(
  text: string,
  onClick: () => void,
  variant: 'primary' | 'secondary' | 'danger' | 'ghost' | 'danger-ghost' = 'secondary',
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  return h('button', { type: 'button', class: `button ${variant}`, ...attrs, onClick: () => onClick() }, text);
}

export function platformBadges(secret: Secret): HTMLUListElement {
  return h(
    'ul',
    { class: 'badges', 'aria-label': 'Platforms' },
    ...platformsOf(secret).map((p) => h('li', { class: `badge platform-${p}` }, PLATFORM_LABELS[p])),
  );
}

export function stateBadge(secret: Secret, nowS: number): HTMLSpanElement {
  const state = secretState(secret, nowS);
  if (state.kind === 'live') return h('span', { class: 'state state-live' }, 'Live');
  const text = state.kind === 'expiring' ? `Expires ${formatDateTime(state.at)}` : `Expired ${formatDateTime(state.at)}`;
  return h('span', { class: `state state-${state.kind}` }, text);
}

/** "3 minutes ago" with the exact time under it, or "Never". */
export function whenEl(unix: number | null | undefined, nowS: number, never = 'Never'): HTMLElement {
  if (typeof unix !== 'number') return h('span', { class: 'muted' }, never);
  const exact = formatDateTime(unix);
  return h('span', { class: 'when' }, timeEl(unix, relativeTime(unix, nowS), exact), h('span', { class: 'exact' }, exact));
}
