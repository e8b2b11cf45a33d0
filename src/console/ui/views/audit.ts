import { AUDIT_ACTIONS, AUDIT_ACTION_LABELS, type AuditEvent, type AuditFilter, actionLabel, detailPairs } from '../audit.js';
import { h, uid } from '../dom.js';
import { parseLocalDateTime, plural } from '../format.js';
import { type Ctx, errorBox, loading, pageHeader, whenEl } from '../widgets.js';

function eventRow(event: AuditEvent, now: number): HTMLTableRowElement {
  const pairs = detailPairs(event.details);
  const actor = event.actor;
  return h(
    'tr',
    { 'data-action': event.action },
    h('td', { 'data-label': 'When' }, whenEl(event.created_at, now)),
    h(
      'td',
      { 'data-label': 'Action' },
      h('span', { class: `action action-${event.action.split('.')[1] ?? 'other'}` }, actionLabel(event.action)),
      h('span', { class: 'muted small code' }, event.action),
    ),
    h('td', { 'data-label': 'Target' }, event.target ? `${event.target.type} ${event.target.id}` : '–'),
    h(
      'td',
      { 'data-label': 'By' },
      actor?.token_id ? `token ${actor.token_id}` : h('span', { class: 'muted' }, 'the service'),
      actor?.ip ? h('span', { class: 'muted small' }, actor.ip) : null,
    ),
    h(
      'td',
      { 'data-label': 'Details', class: 'details' },
      pairs.length > 0
        ? h('ul', { class: 'pairs' }, ...pairs.map(([k, v]) => h('li', {}, h('span', { class: 'key' }, `${k}: `), v)))
        : null,
      event.request_id ? h('span', { class: 'muted small' }, `request ${event.request_id}`) : null,
    ),
  );
}

export function auditView(ctx: Ctx, container: HTMLElement): void {
  const boxes = AUDIT_ACTIONS.map((action) => {
    const id = uid('action');
    const box = h('input', { type: 'checkbox', id, name: 'action', value: action });
    return { box, item: h('li', { class: 'check' }, box, h('label', { for: id }, AUDIT_ACTION_LABELS[action])) };
  });
  const sinceId = uid('since');
  const untilId = uid('until');
  const since = h('input', { id: sinceId, type: 'datetime-local', name: 'since' });
  const until = h('input', { id: untilId, type: 'datetime-local', name: 'until' });
  const formError = h('div', { class: 'form-error' });
  const form = h(
    'form',
    { class: 'filters audit-filters', 'aria-label': 'Filter events' },
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'Actions (none ticked shows all)'),
      h('ul', { class: 'checks' }, ...boxes.map((b) => b.item)),
    ),
    h(
      'div',
      { class: 'field-group' },
      h('div', { class: 'field' }, h('label', { for: sinceId }, 'From (your local time)'), since),
      h('div', { class: 'field' }, h('label', { for: untilId }, 'To (your local time)'), until),
      h(
        'div',
        { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'button primary' }, 'Apply filters'),
        h('button', { type: 'reset', class: 'button secondary' }, 'Clear'),
      ),
    ),
    formError,
  );
  const results = h('div', { class: 'page-content', 'aria-live': 'polite' });
  container.append(
    pageHeader(
      'Audit log',
      'Every change to secrets, tokens and the workspace, newest first. Secret values and tokens are never recorded.',
    ),
    form,
    results,
  );

  let filter: AuditFilter = { actions: [], since: null, until: null };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    formError.replaceChildren();
    const from = since.value === '' ? null : parseLocalDateTime(since.value);
    const to = until.value === '' ? null : parseLocalDateTime(until.value);
    if ((since.value !== '' && from === null) || (until.value !== '' && to === null)) {
      formError.append(h('p', { role: 'alert' }, 'Enter a complete date and time.'));
      return;
    }
    if (from !== null && to !== null && from > to) {
      formError.append(h('p', { role: 'alert' }, '“From” must be before “To”.'));
      return;
    }
    filter = { actions: boxes.filter((b) => b.box.checked).map((b) => b.box.value), since: from, until: to };
    void load();
  });
  form.addEventListener('reset', () => {
    formError.replaceChildren();
    filter = { actions: [], since: null, until: null };
    void load();
  });

  async function load(): Promise<void> {
    results.replaceChildren(loading('Loading events…'));
    const now = ctx.nowS();
    const body = h('tbody');
    const count = h('p', { class: 'muted small count' });
    const more = h('button', { type: 'button', class: 'button secondary' }, 'Load more');
    let shown = 0;
    let cursor: string | null = null;
    const requested = filter;

    async function page(): Promise<boolean> {
      try {
        const answer = await ctx.api.auditEvents(requested, cursor);
        for (const event of answer.data) body.append(eventRow(event, now));
        shown += answer.data.length;
        cursor = answer.pages?.next?.starting_after ?? null;
        count.textContent = `Showing ${plural(shown, 'event')}${cursor ? ' (more below)' : ''}.`;
        more.hidden = cursor === null;
        return true;
      } catch (err) {
        results.append(errorBox(err, 'Could not load the audit log'));
        return false;
      }
    }

    more.addEventListener('click', () => {
      more.disabled = true;
      void page().then(() => {
        more.disabled = false;
      });
    });
    results.replaceChildren();
    if (!(await page())) return;
    if (shown === 0) {
      results.append(h('p', { class: 'empty' }, 'No events match these filters.'));
      return;
    }
    const table = h(
      'table',
      { class: 'audit' },
      h('caption', { class: 'visually-hidden' }, 'Audit events, newest first'),
      h('thead', {}, h('tr', {}, ...['When', 'Action', 'Target', 'By', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    );
    results.append(count, h('div', { class: 'table-wrap' }, table), more);
  }

  void load();
}
