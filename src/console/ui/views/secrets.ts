import { usageSparkline } from '../chart.js';
import { h } from '../dom.js';
import { PLATFORMS, PLATFORM_LABELS, type Secret, formatDateTime, plural } from '../format.js';
import { type RotationPolicy, isDue } from '../policy.js';
import { DEFAULT_WINDOW, platformTotals } from '../usage.js';
import { type Ctx, button, loadSecretsInto, errorText, pageHeader, platformBadges, stateBadge, whenEl } from '../widgets.js';
import { openCreateDialog } from './create-dialog.js';
import { openDeleteDialog } from './delete-dialog.js';
import { openEditDialog } from './edit-dialog.js';
import { openRotateDialog } from './rotate-dialog.js';

export function platformLegend(): HTMLUListElement {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Chart colours' },
    ...PLATFORMS.map((p) => h('li', {}, h('span', { class: `swatch bar-${p}`, 'aria-hidden': 'true' }), PLATFORM_LABELS[p])),
  );
}

function usageCell(ctx: Ctx, secret: Secret): HTMLTableCellElement {
  const cell = h('td', { class: 'usage', 'data-label': 'Last 24 hours' }, h('span', { class: 'muted small' }, 'Loading…'));
  ctx.api.usage(secret.id, DEFAULT_WINDOW).then(
    (series) => {
      const totals = platformTotals(series.buckets);
      const total = totals.web + totals.ios + totals.android;
      const label = `Verifications of “${secret.name}” in the last 24 hours: ${PLATFORMS.map((p) => `${PLATFORM_LABELS[p]} ${totals[p]}`).join(', ')}`;
      cell.replaceChildren(usageSparkline(series.buckets, label), h('span', { class: 'small' }, plural(total, 'verification')));
    },
    (err: unknown) => {
      cell.replaceChildren(h('span', { class: 'small muted' }, `Usage unavailable: ${errorText(err).message}`));
    },
  );
  return cell;
}

export function secretsView(ctx: Ctx, container: HTMLElement): void {
  const content = h('div', { class: 'page-content' });
  const reload = () => void load();
  container.append(
    pageHeader(
      'Identity verification secrets',
      'Each secret signs user_hash values and JWTs for the platforms it supports. Rotate one to get its successor: both verify until your servers have moved, then the server deletes the old one.',
      button('Refresh', reload),
      button(
        'Create secret',
        () =>
          openCreateDialog(ctx, (s) => {
            ctx.announce(`Secret “${s.name}” created.`);
            reload();
          }),
        'primary',
      ),
    ),
    content,
  );

  function row(secret: Secret, now: number, policy: RotationPolicy | null): HTMLTableRowElement {
    const edit = button(
      'Edit',
      () =>
        openEditDialog(ctx, secret, (s) => {
          ctx.announce(`Secret “${s.name}” saved.`);
          reload();
        }),
      'ghost',
      { 'aria-label': `Edit “${secret.name}”` },
    );
    const rotate = button(
      'Rotate',
      () =>
        openRotateDialog(ctx, secret, () => {
          ctx.announce(`Rotation of “${secret.name}” started.`);
          location.hash = '#/rotation';
        }),
      'ghost',
      { 'aria-label': `Rotate “${secret.name}”` },
    );
    const del = button(
      'Delete',
      () =>
        openDeleteDialog(ctx, secret, () => {
          ctx.announce(`Secret “${secret.name}” deleted.`);
          reload();
        }),
      'danger-ghost',
      { 'aria-label': `Delete “${secret.name}”` },
    );
    return h(
      'tr',
      { 'data-secret-id': secret.id },
      h(
        'th',
        { scope: 'row', class: 'name' },
        h('span', { class: 'secret-name' }, secret.name),
        h('span', { class: 'muted small' }, `id ${secret.id}`),
      ),
      h('td', { 'data-label': 'Platforms' }, platformBadges(secret)),
      h('td', { 'data-label': 'Created' }, whenEl(secret.created_at, now)),
      h('td', { 'data-label': 'Last verified', class: 'last-verified' }, whenEl(secret.last_verified_at, now)),
      usageCell(ctx, secret),
      h(
        'td',
        { 'data-label': 'State' },
        stateBadge(secret, now),
        isDue(secret, policy, now) && policy?.max_age_days != null
          ? h(
              'span',
              {
                class: 'state state-due',
                title: `Older than the rotation policy’s ${plural(policy.max_age_days, 'day')}: rotate it`,
              },
              'Due for rotation',
            )
          : null,
      ),
      h('td', { class: 'row-actions' }, edit, rotate, del),
    );
  }

  async function load(): Promise<void> {
    const secrets = await loadSecretsInto(ctx, content);
    if (!secrets) return;
    // Read after the secrets, so a refused token is reported once. The policy only adds the Due badges: a server
    // without it, or a failed read, still lists the secrets.
    const policy = await ctx.api.getRotationPolicy().catch(() => null);
    const now = ctx.nowS();
    if (secrets.length === 0) {
      content.replaceChildren(
        h(
          'div',
          { class: 'empty' },
          h('p', {}, 'No secrets yet. Create one, give it to your servers, and users signed with it verify.'),
        ),
      );
      return;
    }
    secrets.sort((a, b) => b.created_at - a.created_at || Number(b.id) - Number(a.id));
    const head = h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Name', 'Platforms', 'Created', 'Last verified', 'Last 24 hours', 'State'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
      ),
    );
    const table = h(
      'table',
      { class: 'secrets' },
      h('caption', { class: 'visually-hidden' }, 'Identity verification secrets, newest first'),
      head,
      h('tbody', {}, ...secrets.map((s) => row(s, now, policy))),
    );
    content.replaceChildren(
      secrets.length > 1
        ? h(
            'p',
            { class: 'hint' },
            `${secrets.length} secrets are live. `,
            h('a', { href: '#/rotation' }, 'Follow their progress'),
            '.',
          )
        : '',
      platformLegend(),
      h('div', { class: 'table-wrap' }, table),
      h('p', { class: 'muted small updated' }, `Updated ${formatDateTime(now)}`),
    );
  }

  reload();
}
