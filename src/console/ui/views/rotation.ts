import { shareChart } from '../chart.js';
import { h, uid } from '../dom.js';
import { type Secret, formatDateTime, formatTick, percent, relativeTime } from '../format.js';
import {
  type Cutover,
  DEFAULT_WINDOW,
  USAGE_WINDOWS,
  type ShareBucket,
  type UsageSeries,
  type UsageWindow,
  cutoverStatus,
  rotationShares,
} from '../usage.js';
import { type Ctx, button, loadSecretsInto, errorBox, loading, pageHeader, whenEl } from '../widgets.js';
import { openDeleteDialog } from './delete-dialog.js';

function headline(
  status: Cutover,
  oldSecret: Secret,
  newSecret: Secret,
  series: UsageSeries,
  now: number,
): { kind: string; text: string } {
  const oldName = `“${oldSecret.name}”`;
  const newName = `“${newSecret.name}”`;
  switch (status.kind) {
    case 'no_traffic':
      return { kind: 'idle', text: 'Neither secret verified anyone in this window.' };
    case 'not_started':
      return { kind: 'waiting', text: `Not started: every verification still uses ${oldName}. Give ${newName} to your servers.` };
    case 'in_progress':
      return {
        kind: 'progress',
        text: `In progress: ${percent(status.oldShare)} of verifications in the step from ${formatTick(status.bucketStart, series.window_seconds)} still used ${oldName}.`,
      };
    case 'cut_over': {
      const last = series.last_verified_at;
      const since = typeof last === 'number' ? ` ${oldName} last verified a user ${relativeTime(last, now)}.` : '';
      return { kind: 'done', text: `Cut over: all recent verifications use ${newName}.${since}` };
    }
  }
}

function numbersTable(
  shares: readonly ShareBucket[],
  oldSecret: Secret,
  newSecret: Secret,
  windowSeconds: number,
): HTMLDetailsElement {
  return h(
    'details',
    { class: 'numbers' },
    h('summary', {}, 'Show the numbers'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'compact' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'From'),
            h('th', { scope: 'col' }, oldSecret.name),
            h('th', { scope: 'col' }, newSecret.name),
            h('th', { scope: 'col' }, 'New share'),
          ),
        ),
        h(
          'tbody',
          {},
          ...shares.map((b) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, formatTick(b.start, windowSeconds)),
              h('td', {}, String(b.old)),
              h('td', {}, String(b.new)),
              h('td', {}, b.newShare === null ? '–' : percent(b.newShare)),
            ),
          ),
        ),
      ),
    ),
  );
}

export function rotationView(ctx: Ctx, container: HTMLElement): void {
  const content = h('div', { class: 'page-content' });
  container.append(
    pageHeader(
      'Rotation',
      'While two secrets are live your servers move from signing with the old one to the new one. Here is each one’s share of successful verifications over time: once the old share stays at 0%, delete the old secret.',
      button('Refresh', () => void load()),
    ),
    content,
  );

  async function load(): Promise<void> {
    const secrets = await loadSecretsInto(ctx, content);
    if (!secrets) return;
    if (secrets.length < 2) {
      content.replaceChildren(
        h(
          'div',
          { class: 'empty' },
          h('p', {}, 'A rotation needs two live secrets: the old one and the new one. '),
          h('p', {}, h('a', { href: '#/secrets' }, 'Create the new secret on the Secrets page'), '.'),
        ),
      );
      return;
    }
    secrets.sort((a, b) => a.created_at - b.created_at || Number(a.id) - Number(b.id));
    const select = (label: string, chosen: Secret) => {
      const id = uid('pick');
      const el = h(
        'select',
        { id },
        ...secrets.map((s) =>
          h('option', { value: s.id, selected: s.id === chosen.id }, `${s.name} (created ${formatDateTime(s.created_at)})`),
        ),
      );
      return { el, field: h('div', { class: 'field' }, h('label', { for: id }, label), el) };
    };
    const oldPick = select('Old secret', secrets[secrets.length - 2]!);
    const newPick = select('New secret', secrets[secrets.length - 1]!);
    const windowId = uid('window');
    const windowPick = h(
      'select',
      { id: windowId },
      ...USAGE_WINDOWS.map((w) => h('option', { value: w.id, selected: w.id === DEFAULT_WINDOW.id }, w.label)),
    );
    const result = h('div', { class: 'rotation-result', 'aria-live': 'polite' });
    const form = h(
      'form',
      { class: 'filters' },
      oldPick.field,
      newPick.field,
      h('div', { class: 'field' }, h('label', { for: windowId }, 'Time window'), windowPick),
    );
    form.addEventListener('submit', (e) => e.preventDefault());
    form.addEventListener('change', () => void draw());
    content.replaceChildren(form, result);

    const byId = (id: string) => secrets.find((s) => s.id === id)!;

    async function draw(): Promise<void> {
      const oldSecret = byId(oldPick.el.value);
      const newSecret = byId(newPick.el.value);
      const window: UsageWindow = USAGE_WINDOWS.find((w) => w.id === windowPick.value) ?? DEFAULT_WINDOW;
      if (oldSecret.id === newSecret.id) {
        result.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Choose two different secrets to compare.'));
        return;
      }
      result.replaceChildren(loading('Loading usage…'));
      let oldSeries: UsageSeries;
      let newSeries: UsageSeries;
      try {
        [oldSeries, newSeries] = await Promise.all([ctx.api.usage(oldSecret.id, window), ctx.api.usage(newSecret.id, window)]);
      } catch (err) {
        result.replaceChildren(errorBox(err, 'Could not load usage'));
        return;
      }
      const now = ctx.nowS();
      const shares = rotationShares(oldSeries.buckets, newSeries.buckets);
      const status = cutoverStatus(shares);
      const head = headline(status, oldSecret, newSecret, oldSeries, now);
      const label = `Share of verifications, ${window.label.toLowerCase()}: ${head.text}`;
      result.replaceChildren(
        h('p', { class: `cutover cutover-${head.kind}` }, head.text),
        h(
          'ul',
          { class: 'legend', 'aria-label': 'Chart colours' },
          h('li', {}, h('span', { class: 'swatch share-old', 'aria-hidden': 'true' }), `Old: ${oldSecret.name}`),
          h('li', {}, h('span', { class: 'swatch share-new', 'aria-hidden': 'true' }), `New: ${newSecret.name}`),
        ),
        h('div', { class: 'chart-frame' }, shareChart(shares, window.window, label, matchMedia('(max-width: 760px)').matches)),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, `“${oldSecret.name}” last verified`),
          h('dd', {}, whenEl(oldSeries.last_verified_at, now)),
          h('dt', {}, `“${newSecret.name}” last verified`),
          h('dd', {}, whenEl(newSeries.last_verified_at, now)),
        ),
        h(
          'div',
          { class: 'actions' },
          button(
            `Delete “${oldSecret.name}”…`,
            () =>
              openDeleteDialog(ctx, { ...oldSecret, last_verified_at: oldSeries.last_verified_at }, () => {
                ctx.announce(`Secret “${oldSecret.name}” deleted.`);
                void load();
              }),
            'danger',
          ),
        ),
        numbersTable(shares, oldSecret, newSecret, window.window),
      );
    }
    await draw();
  }

  void load();
}
