import type { DialogHandle } from '../dialog.js';
import { type Child, h, uid } from '../dom.js';

/**
 * Turns a dialog into the one and only showing of a secret: the value with a Copy button, and no way out until the
 * operator ticks that it was saved. The value lives only in the textarea (never in storage) and is blanked on Done.
 * Used by Create and by Rotate; `extra` goes under the value (e.g. the signing snippets).
 */
export function showSecretOnce(handle: DialogHandle, title: string, secret: string, onSaved: () => void, extra?: Child): void {
  handle.setTitle(title);
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
  value.value = secret;
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
    onSaved();
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
    extra,
    h('div', { class: 'check confirm' }, confirm, h('label', { for: confirmId }, 'I have saved this secret somewhere safe')),
    h('div', { class: 'dialog-actions' }, h('p', { class: 'hint' }, 'Tick the box to close.'), done),
  );
  value.focus();
  value.select();
}
