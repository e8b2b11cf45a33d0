import type { SecretDetail } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { type Secret, formatDateTime, plural, relativeTime, trafficIsRecent } from '../format.js';
import { type Ctx, errorBox, loading } from '../widgets.js';

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Deleting stops verification at once, so the dialog first fetches fresh usage and says when the secret last
 * verified anyone; recent traffic turns it into a loud warning that must be acknowledged.
 */
export function openDeleteDialog(ctx: Ctx, secret: Secret, onDeleted: () => void): void {
  const handle = openDialog({ title: `Delete “${secret.name}”?`, className: 'dialog-danger' });
  handle.setContent(loading('Checking when it last verified a user…'));

  ctx.api.getSecret(secret.id).then(
    (detail) => render(detail, null),
    (err: unknown) => render(null, err),
  );

  function render(detail: SecretDetail | null, loadError: unknown): void {
    const now = ctx.nowS();
    const last = detail ? detail.last_verified_at : secret.last_verified_at;
    const recent = trafficIsRecent(last, now);
    const parts: Node[] = [];
    if (loadError) parts.push(errorBox(loadError, 'Could not check its latest traffic'));
    parts.push(
      h(
        'p',
        { class: 'last-verified' },
        typeof last === 'number'
          ? `It last verified a user ${relativeTime(last, now)} (${formatDateTime(last)}).`
          : 'It has never verified a user.',
      ),
    );

    const confirmId = uid('delete-ack');
    const ack = h('input', { type: 'checkbox', id: confirmId });
    if (recent) {
      const lines = [h('p', {}, h('strong', {}, 'Traffic is still signed with this secret.'))];
      if (detail) {
        lines.push(
          h(
            'p',
            {},
            `Verifications it passed: ${plural(sum(detail.usage.last_hour), 'verification')} in the last hour, ${sum(detail.usage.last_day).toLocaleString('en')} in the last 24 hours.`,
          ),
        );
      }
      lines.push(
        h(
          'p',
          {},
          'Deleting it now makes every user_hash and JWT signed with it fail identity verification at once. Move your servers to another secret first and check the Rotation page until this one’s share is 0%.',
        ),
        h(
          'div',
          { class: 'check' },
          ack,
          h('label', { for: confirmId }, 'I understand that users signed with this secret will fail verification'),
        ),
      );
      parts.push(h('div', { class: 'danger-box', role: 'alert' }, ...lines));
    }
    parts.push(h('p', {}, 'Deleting takes effect immediately and cannot be undone.'));

    const errorArea = h('div', { class: 'form-error' });
    const cancel = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'button danger', disabled: recent }, 'Delete secret');
    ack.addEventListener('change', () => {
      confirm.disabled = !ack.checked;
    });
    confirm.addEventListener('click', () => {
      confirm.disabled = true;
      confirm.textContent = 'Deleting…';
      errorArea.replaceChildren();
      ctx.api.deleteSecret(secret.id).then(
        () => {
          handle.close();
          onDeleted();
        },
        (err: unknown) => {
          confirm.disabled = recent && !ack.checked;
          confirm.textContent = 'Delete secret';
          errorArea.append(errorBox(err, 'Not deleted'));
        },
      );
    });
    handle.setContent(...parts, errorArea, h('div', { class: 'dialog-actions' }, cancel, confirm));
    cancel.focus();
  }
}
