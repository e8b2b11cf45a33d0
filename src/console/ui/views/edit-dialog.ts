import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { type Secret, parseLocalDateTime, toLocalDateTimeValue } from '../format.js';
import { type Ctx, errorBox } from '../widgets.js';
import { platformFields } from './platform-fields.js';

/** Rename, change platforms, or schedule retirement (expires_at) — the last step of a calm rotation. */
export function openEditDialog(ctx: Ctx, secret: Secret, onSaved: (secret: Secret) => void): void {
  const handle = openDialog({ title: `Edit “${secret.name}”` });
  const nameId = uid('edit-name');
  const expiresId = uid('edit-expires');
  const expiresHint = uid('edit-expires-hint');
  const name = h('input', { id: nameId, type: 'text', required: true, maxlength: 255, autocomplete: 'off', spellcheck: 'false' });
  name.value = secret.name;
  const platforms = platformFields({ web: secret.supports_web, ios: secret.supports_ios, android: secret.supports_android });
  const expires = h('input', { id: expiresId, type: 'datetime-local', 'aria-describedby': expiresHint });
  if (typeof secret.expires_at === 'number') expires.value = toLocalDateTimeValue(secret.expires_at);
  const errorArea = h('div', { class: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Save');
  const form = h(
    'form',
    { class: 'form' },
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), name),
    platforms.fieldset,
    h(
      'div',
      { class: 'field' },
      h('label', { for: expiresId }, 'Retire automatically at (your local time)'),
      expires,
      h(
        'p',
        { id: expiresHint, class: 'hint' },
        'Leave empty to keep it live until deleted. At this time it stops verifying, as if deleted.',
      ),
    ),
    errorArea,
    h(
      'div',
      { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel'),
      submit,
    ),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    errorArea.replaceChildren();
    if (!platforms.any()) {
      errorArea.append(h('p', { role: 'alert' }, 'Choose at least one platform.'));
      return;
    }
    const expiresAt = expires.value === '' ? null : parseLocalDateTime(expires.value);
    if (expires.value !== '' && (expiresAt === null || expiresAt <= ctx.nowS())) {
      errorArea.append(h('p', { role: 'alert' }, 'Choose a retirement time in the future, or leave it empty.'));
      expires.focus();
      return;
    }
    submit.disabled = true;
    ctx.api.updateSecret(secret.id, { name: name.value, ...platforms.chosen(), expires_at: expiresAt }).then(
      (updated) => {
        handle.close();
        onSaved(updated);
      },
      (err: unknown) => {
        submit.disabled = false;
        errorArea.append(errorBox(err, 'Not saved'));
      },
    );
  });

  handle.setContent(form);
  name.focus();
}
