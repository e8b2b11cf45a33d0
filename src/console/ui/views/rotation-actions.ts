import { ApiFailure } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { type Rotation, overridable } from '../rotations.js';
import { type Ctx, errorBox } from '../widgets.js';
import type { SecretNames } from './rotation.js';

function codesOf(err: unknown): string[] {
  return err instanceof ApiFailure ? err.codes : [];
}

/**
 * Cancelling keeps the old secret and deletes the new one. Once the new one has verified users the server refuses
 * (409 identity_verification_secret_in_use); the dialog then offers the explicit "keep the new secret" choice.
 */
export function openCancelDialog(ctx: Ctx, rotation: Rotation, names: SecretNames, onDone: () => void): void {
  const oldName = names(rotation.from_secret_id);
  const newName = names(rotation.to_secret_id);
  const handle = openDialog({ title: 'Cancel this rotation?' });
  const errorArea = h('div', { class: 'form-error' });
  const back = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Back');
  const confirm = h('button', { type: 'button', class: 'button danger' }, 'Cancel rotation');

  const finish = (keepNew: boolean) => {
    ctx.announce(keepNew ? `Rotation cancelled; ${newName} stays live beside ${oldName}.` : 'Rotation cancelled.');
    handle.close();
    onDone();
  };

  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    errorArea.replaceChildren();
    ctx.api.cancelRotation(rotation.id, false).then(
      () => finish(false),
      (err: unknown) => {
        if (!overridable('cancel', codesOf(err))) {
          confirm.disabled = false;
          errorArea.append(errorBox(err, 'Not cancelled'));
          return;
        }
        const keep = h('button', { type: 'button', class: 'button primary' }, 'Cancel and keep the new secret');
        keep.addEventListener('click', () => {
          keep.disabled = true;
          ctx.api.cancelRotation(rotation.id, true).then(
            () => finish(true),
            (again: unknown) => {
              keep.disabled = false;
              errorArea.append(errorBox(again, 'Not cancelled'));
            },
          );
        });
        confirm.remove();
        errorArea.append(
          errorBox(err, 'Not cancelled'),
          h(
            'p',
            {},
            `${newName} already verifies users, so deleting it would lock them out. You can cancel and keep it: both secrets then stay live and you delete one yourself later.`,
          ),
          h('div', { class: 'dialog-actions' }, keep),
        );
        keep.focus();
      },
    );
  });

  handle.setContent(
    h('p', {}, `The old secret ${oldName} stays live and the new secret ${newName} is deleted.`),
    errorArea,
    h('div', { class: 'dialog-actions' }, back, confirm),
  );
  back.focus();
}

/**
 * Completing deletes the old secret now. The server refuses while the new one has not verified everywhere or the old
 * one still verifies; forcing past that needs an explicit acknowledgement.
 */
export function openCompleteDialog(ctx: Ctx, rotation: Rotation, names: SecretNames, onDone: () => void): void {
  const oldName = names(rotation.from_secret_id);
  const handle = openDialog({ title: 'Complete this rotation now?', className: 'dialog-danger' });
  const errorArea = h('div', { class: 'form-error' });
  const back = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Back');
  const confirm = h('button', { type: 'button', class: 'button danger' }, 'Complete rotation');

  const finish = (forced: boolean) => {
    ctx.announce(forced ? `Rotation completed by force; ${oldName} was deleted.` : `Rotation completed; ${oldName} was deleted.`);
    handle.close();
    onDone();
  };

  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    errorArea.replaceChildren();
    ctx.api.completeRotation(rotation.id, false).then(
      () => finish(false),
      (err: unknown) => {
        if (!overridable('complete', codesOf(err))) {
          confirm.disabled = false;
          errorArea.append(errorBox(err, 'Not completed'));
          return;
        }
        const ackId = uid('force-ack');
        const ack = h('input', { type: 'checkbox', id: ackId });
        const force = h('button', { type: 'button', class: 'button danger', disabled: true }, 'Force: delete the old secret now');
        ack.addEventListener('change', () => {
          force.disabled = !ack.checked;
        });
        force.addEventListener('click', () => {
          force.disabled = true;
          ctx.api.completeRotation(rotation.id, true).then(
            () => finish(true),
            (again: unknown) => {
              force.disabled = !ack.checked;
              errorArea.append(errorBox(again, 'Not completed'));
            },
          );
        });
        confirm.remove();
        errorArea.append(
          errorBox(err, 'Not completed'),
          h(
            'div',
            { class: 'danger-box' },
            h(
              'p',
              {},
              h('strong', {}, 'Forcing deletes the old secret now, whatever its traffic. '),
              `Every user_hash and JWT still signed with ${oldName} fails identity verification at once.`,
            ),
            h(
              'div',
              { class: 'check' },
              ack,
              h('label', { for: ackId }, `I understand that users still signed with ${oldName} will fail verification`),
            ),
          ),
          h('div', { class: 'dialog-actions' }, force),
        );
        ack.focus();
      },
    );
  });

  handle.setContent(
    h(
      'p',
      {},
      `This deletes the old secret ${oldName} now. The server checks first that the new secret has verified a user on every platform and the old one has been idle for long enough.`,
    ),
    errorArea,
    h('div', { class: 'dialog-actions' }, back, confirm),
  );
  back.focus();
}
