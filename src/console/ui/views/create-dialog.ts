import type { CreatedSecret } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import type { Secret } from '../format.js';
import { type Ctx, errorBox } from '../widgets.js';
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
        showSecret(secret);
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

  function showSecret(secret: CreatedSecret): void {
    handle.setTitle(`Save the secret for “${secret.name}”`);
    const warnId = uid('secret-warning');
    const valueId = uid('secret-value');
    // A textarea so the whole value wraps into view at any width; the Copy button is the usual way out.
    const value = h('textarea', {
      id: valueId,
      class: 'secret-value',
      rows: 2,
      readonly: true,
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': warnId,
    });
    value.value = secret.secret;
    const copyStatus = h('p', { class: 'copy-status', role: 'status' });
    const copy = h('button', { type: 'button', class: 'button secondary' }, 'Copy');
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(value.value).then(
        () => {
          copyStatus.textContent = 'Copied to the clipboard.';
        },
        () => {
          value.focus();
          value.select();
          copyStatus.textContent = 'This browser blocked copying: the secret is selected, press Ctrl+C (⌘C on a Mac).';
        },
      );
    });
    const confirmId = uid('secret-saved');
    const confirm = h('input', { type: 'checkbox', id: confirmId });
    const done = h('button', { type: 'button', class: 'button primary', disabled: true }, 'Done');
    confirm.addEventListener('change', () => {
      done.disabled = !confirm.checked;
    });
    done.addEventListener('click', () => {
      saved = true;
      value.value = '';
      handle.close();
    });
    handle.setContent(
      h(
        'div',
        { class: 'warning', id: warnId },
        h('p', {}, h('strong', {}, 'This is the only time this secret is shown.')),
        h(
          'p',
          {},
          'Copy it now and store it where your servers read their configuration. secure-mode keeps it encrypted and will never display it again; if it is lost, create a new secret and delete this one.',
        ),
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: valueId }, 'Secret'),
        h('div', { class: 'copy-row' }, value, copy),
        copyStatus,
      ),
      h('div', { class: 'check confirm' }, confirm, h('label', { for: confirmId }, 'I have saved this secret somewhere safe')),
      h('div', { class: 'dialog-actions' }, h('p', { class: 'hint' }, 'Tick the box to close.'), done),
    );
    value.focus();
    value.select();
  }

  handle.setContent(form);
  name.focus();
}
