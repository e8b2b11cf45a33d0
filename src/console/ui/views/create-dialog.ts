import type { CreatedSecret } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import type { Secret } from '../format.js';
import { type Ctx, errorBox } from '../widgets.js';
import { showSecretOnce } from './secret-once.js';
import { platformFields } from './platform-fields.js';

/**
 * Step one asks for a name and platforms; step two shows the secret once, with a copy button, and will not
 * close until the operator confirms it was saved.
 */
export function openCreateDialog(ctx: Ctx, onCreated: (secret: Secret) => void): void {
  let created: CreatedSecret | null = null;
  let saved = false;
  const handle = openDialog({
    title: 'Create a secret',
    canDismiss: () => created === null || saved,
    onClosed: () => {
      if (created) onCreated(created);
    },
  });

  const nameId = uid('secret-name');
  const hintId = uid('secret-name-hint');
  const name = h('input', {
    id: nameId,
    name: 'name',
    type: 'text',
    required: true,
    maxlength: 255,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': hintId,
  });
  const platforms = platformFields({ web: true, ios: false, android: false });
  const errorArea = h('div', { class: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Create secret');
  const cancel = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel');
  const form = h(
    'form',
    { class: 'form' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: nameId }, 'Name'),
      name,
      h('p', { id: hintId, class: 'hint' }, 'For people: say where it is used, e.g. "Production web, 2026".'),
    ),
    platforms.fieldset,
    errorArea,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    errorArea.replaceChildren();
    name.removeAttribute('aria-invalid');
    if (!platforms.any()) {
      errorArea.append(h('p', { role: 'alert' }, 'Choose at least one platform.'));
      platforms.boxes.web.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    ctx.api.createSecret({ name: name.value, ...platforms.chosen() }).then(
      (secret) => {
        created = secret;
        showSecretOnce(handle, `Save the secret for “${secret.name}”`, secret.secret, () => {
          saved = true;
        });
      },
      (err: unknown) => {
        submit.disabled = false;
        submit.textContent = 'Create secret';
        errorArea.append(errorBox(err, 'Not created'));
        if ((err as { field?: string }).field === 'name') {
          name.setAttribute('aria-invalid', 'true');
          name.focus();
        }
      },
    );
  });

  handle.setContent(form);
  name.focus();
}
