import { h } from '../dom.js';
import { PLATFORM_LABELS, type Secret, formatDateTime } from '../format.js';
import {
  POLL_INTERVAL_MS,
  type Rotation,
  anyOpen,
  durationText,
  isOpen,
  nextStep,
  platformProgress,
  stateLabel,
} from '../rotations.js';
import { Poller } from '../poller.js';
import { type Ctx, button, errorBox, loading, pageHeader, whenEl } from '../widgets.js';
import { openCancelDialog, openCompleteDialog } from './rotation-actions.js';
import { rotationPolicySection } from './rotation-policy.js';
import { snippetsBlock } from './snippets-block.js';

export type SecretNames = (id: string) => string;

function namesOf(secrets: readonly Secret[]): SecretNames {
  const byId = new Map(secrets.map((s) => [s.id, s.name]));
  return (id) => {
    const name = byId.get(id);
    return name === undefined ? `secret ${id} (deleted)` : `“${name}”`;
  };
}

function progressTable(rotation: Rotation, now: number): HTMLElement {
  const open = isOpen(rotation);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'compact progress' },
      h('caption', { class: 'visually-hidden' }, 'Progress per platform'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Platform'),
          h('th', { scope: 'col' }, 'Old secret last verified'),
          h('th', { scope: 'col' }, 'New secret last verified'),
          h('th', { scope: 'col' }, 'New secret'),
        ),
      ),
      h(
        'tbody',
        {},
        ...platformProgress(rotation).map((p) =>
          h(
            'tr',
            { 'data-platform': p.platform },
            h('th', { scope: 'row' }, PLATFORM_LABELS[p.platform]),
            h('td', { 'data-label': 'Old secret last verified' }, whenEl(p.oldLastVerifiedAt, now)),
            h('td', { 'data-label': 'New secret last verified' }, whenEl(p.newLastVerifiedAt, now)),
            // Only an open rotation still waits; a closed one just records whether the new secret got there.
            h(
              'td',
              { 'data-label': 'New secret', class: p.newSeen ? 'seen' : open ? 'waiting' : 'muted' },
              p.newSeen ? 'Seen' : open ? 'Waiting' : 'Not seen',
            ),
          ),
        ),
      ),
    ),
  );
}

function rotationCard(ctx: Ctx, rotation: Rotation, names: SecretNames, now: number, reload: () => void): HTMLElement {
  const open = isOpen(rotation);
  const waitingOn = platformProgress(rotation)
    .filter((p) => !p.newSeen)
    .map((p) => p.platform);
  const facts: Node[] = [
    h('dt', {}, 'Started'),
    h('dd', {}, whenEl(rotation.created_at, now)),
    h('dt', {}, 'Old secret deleted after idle for'),
    h('dd', {}, durationText(rotation.idle_for)),
    h('dt', {}, 'Deadline'),
    h('dd', {}, typeof rotation.deadline === 'number' ? formatDateTime(rotation.deadline) : 'None'),
  ];
  if (typeof rotation.completed_at === 'number') {
    facts.push(
      h('dt', {}, rotation.state === 'cancelled' ? 'Cancelled' : 'Completed'),
      h('dd', {}, whenEl(rotation.completed_at, now)),
    );
  }
  const key = (what: string) => `${rotation.id}:${what}`;
  return h(
    'article',
    { class: `rotation rotation-${rotation.state}`, 'data-rotation-id': rotation.id, 'data-state': rotation.state },
    h(
      'div',
      { class: 'rotation-head' },
      h('h2', {}, `${names(rotation.from_secret_id)} → ${names(rotation.to_secret_id)}`),
      h('span', { class: `state rotation-state state-${rotation.state}` }, stateLabel(rotation.state)),
    ),
    // Names repeat (a successor is named after its predecessor); the ids tell them apart.
    h(
      'p',
      { class: 'muted small ids' },
      `Rotation ${rotation.id}: secret ${rotation.from_secret_id} → secret ${rotation.to_secret_id}`,
    ),
    open && rotation.overdue
      ? h(
          'p',
          // Not role="alert": the card is rebuilt on every refresh and would be announced again each time.
          { class: 'warning overdue' },
          h('strong', {}, 'Overdue: '),
          `the deadline ${typeof rotation.deadline === 'number' ? formatDateTime(rotation.deadline) : ''} has passed and the old secret is still live.`,
        )
      : null,
    h('p', { class: 'next-step' }, nextStep(rotation, waitingOn, PLATFORM_LABELS)),
    progressTable(rotation, now),
    h('dl', { class: 'facts' }, ...facts),
    open
      ? h(
          'div',
          { class: 'actions' },
          button('Cancel rotation…', () => openCancelDialog(ctx, rotation, names, reload), 'secondary', {
            'data-key': key('cancel'),
          }),
          button('Complete now…', () => openCompleteDialog(ctx, rotation, names, reload), 'danger', {
            'data-key': key('complete'),
          }),
        )
      : null,
    open
      ? h(
          'details',
          { class: 'numbers', 'data-key': key('snippets') },
          h('summary', { 'data-key': key('snippets-summary') }, 'Signing code for the new secret'),
          snippetsBlock('Sign users with the new secret'),
        )
      : null,
  );
}

interface UiState {
  focusKey: string | undefined;
  openKeys: Set<string | undefined>;
}

/**
 * A refresh replaces the cards; what the operator had open or focused (a disclosure, a button) is carried over by
 * its data-key, so a control never vanishes under the keyboard. Read before the old cards leave the page.
 */
function uiStateOf(from: HTMLElement | null): UiState | null {
  if (!from) return null;
  const focused = document.activeElement;
  return {
    focusKey: focused instanceof HTMLElement && from.contains(focused) ? focused.dataset.key : undefined,
    openKeys: new Set(
      [...from.querySelectorAll<HTMLDetailsElement>('details[data-key]')].filter((d) => d.open).map((d) => d.dataset.key),
    ),
  };
}

function restoreUiState(to: HTMLElement, state: UiState | null): void {
  if (!state) return;
  for (const d of to.querySelectorAll<HTMLDetailsElement>('details[data-key]'))
    if (state.openKeys.has(d.dataset.key)) d.open = true;
  if (state.focusKey) {
    const target = [...to.querySelectorAll<HTMLElement>('[data-key]')].find((el) => el.dataset.key === state.focusKey);
    target?.focus();
  }
}

export function rotationView(ctx: Ctx, container: HTMLElement): void {
  const content = h('div', { class: 'page-content' });
  const status = h('div', { class: 'muted small updated' });
  container.append(
    pageHeader(
      'Rotation',
      'Rotations started with Rotate on the Secrets page, newest first. The server moves each one on by itself: once the new secret has verified a user on every platform and the old one has been idle long enough, it deletes the old one.',
      button('Refresh', () => void load(true)),
    ),
    content,
    status,
    // Outside the refreshed area, so a background refresh never resets a half-filled form.
    rotationPolicySection(ctx),
  );

  let sequence = 0;
  let first = true;
  let following = false;
  const poller = new Poller(
    {
      setTimeout: (run, ms) => window.setTimeout(run, ms),
      clearTimeout: (id) => window.clearTimeout(id),
      hidden: () => document.hidden,
    },
    POLL_INTERVAL_MS,
    () => {
      if (container.isConnected) void load(false);
    },
  );
  const onVisibility = () => {
    if (container.isConnected) poller.visibilityChanged();
    else document.removeEventListener('visibilitychange', onVisibility);
  };
  document.addEventListener('visibilitychange', onVisibility);

  async function load(showLoading: boolean): Promise<void> {
    poller.stop();
    const mine = ++sequence;
    if (showLoading || first) content.replaceChildren(loading('Loading rotations…'));
    first = false;
    let rotations: Rotation[];
    let secrets: Secret[];
    try {
      [rotations, secrets] = await Promise.all([
        ctx.api.listRotations().then((r) => r.data),
        ctx.api.listSecrets().then((r) => r.data),
      ]);
    } catch (err) {
      if (mine !== sequence || !container.isConnected) return;
      if (showLoading || !following) {
        content.replaceChildren(errorBox(err, 'Could not load the rotations'));
        status.replaceChildren();
        return;
      }
      // A failed background refresh keeps the last answer on screen (and the focus in it) and tries again.
      status.replaceChildren(errorBox(err, 'Could not refresh the rotations; showing the last answer'));
      poller.next(true);
      return;
    }
    if (mine !== sequence || !container.isConnected) return;
    const now = ctx.nowS();
    const reload = () => void load(false);
    if (rotations.length === 0) {
      content.replaceChildren(
        h(
          'div',
          { class: 'empty' },
          h('p', {}, 'No rotations yet.'),
          h('p', {}, 'To rotate a secret, use Rotate beside it on the ', h('a', { href: '#/secrets' }, 'Secrets page'), '.'),
        ),
      );
    } else {
      const names = namesOf(secrets);
      const list = h('div', { class: 'rotations' }, ...rotations.map((r) => rotationCard(ctx, r, names, now, reload)));
      const carried = uiStateOf(content.querySelector<HTMLElement>('.rotations'));
      content.replaceChildren(list);
      restoreUiState(list, carried);
    }
    following = anyOpen(rotations);
    status.textContent = `Updated ${formatDateTime(now)}.${following ? ` Refreshes every ${POLL_INTERVAL_MS / 1000} seconds while a rotation is open.` : ''}`;
    poller.next(following);
  }

  void load(true);
}
