import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import type { Secret } from '../format.js';
import type { StartedRotation } from '../rotations.js';
import { type Ctx, errorBox } from '../widgets.js';
import { showSecretOnce } from './secret-once.js';
import { snippetsBlock } from './snippets-block.js';

export const IDLE_CHOICES: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 3_600, label: '1 hour (default)' },
  { seconds: 60, label: '1 minute' },
  { seconds: 600, label: '10 minutes' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 604_800, label: '7 days' },
];

/**
 * Starts a server-side rotation of `secret`: the server creates the successor with the same platforms and answers
 * with its value once, which is shown in the same show-once step as Create.
 */
export function openRotateDialog(ctx: Ctx, secret: Secret, onStarted: (rotation: StartedRotation) => void): void {
  let started: StartedRotation | null = null;
  let saved = false;
  const handle = openDialog({
    title: `Rotate “${secret.name}”`,
    canDismiss: () => started === null || saved,
    onClosed: () => {
      if (started) onStarted(started);
    },
  });

  const nameId = uid('successor-name');
  const idleId = uid('idle-for');
  const name = h('input', {
    id: nameId,
    type: 'text',
    maxlength: 255,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: `${secret.name} (with today’s date)`,
  });
  const idle = h('select', { id: idleId }, ...IDLE_CHOICES.map((c) => h('option', { value: c.seconds }, c.label)));
  const errorArea = h('div', { class: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Start rotation');
  const cancel = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel');
  const form = h(
    'form',
    { class: 'form' },
    h(
      'p',
      {},
      'secure-mode creates a new secret for the same platforms and shows it once. Both verify until the new one has verified a user on every platform and the old one has been idle for the time below; then the server deletes the old one.',
    ),
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Name of the new secret (optional)'), name),
    h('div', { class: 'field' }, h('label', { for: idleId }, 'Delete the old secret after it has been idle for'), idle),
    errorArea,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    errorArea.replaceChildren();
    submit.disabled = true;
    submit.textContent = 'Starting…';
    const successorName = name.value.trim();
    ctx.api
      .startRotation({ secret_id: secret.id, idle_for: Number(idle.value), ...(successorName ? { name: successorName } : {}) })
      .then(
        (rotation) => {
          started = rotation;
          // The console never asks the server to deliver the secret itself ("deliver": true), so the 201 carries it.
          if (rotation.secret === undefined) {
            errorArea.textContent = 'The server started the rotation without showing the new secret.';
            return;
          }
          showSecretOnce(
            handle,
            successorName ? `Save the new secret “${successorName}”` : `Save the successor of “${secret.name}”`,
            rotation.secret,
            () => {
              saved = true;
            },
            snippetsBlock('Sign users with the new secret'),
          );
        },
        (err: unknown) => {
          submit.disabled = false;
          submit.textContent = 'Start rotation';
          errorArea.append(errorBox(err, 'Not started'));
        },
      );
  });

  handle.setContent(form);
  submit.focus();
}
