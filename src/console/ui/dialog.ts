import { type Child, h, uid } from './dom.js';

export interface DialogOptions {
  title: string;
  /** False keeps the dialog open on Escape; used while a secret is on screen and not yet confirmed saved. */
  canDismiss?: () => boolean;
  onClosed?: () => void;
  className?: string;
}

export interface DialogHandle {
  setTitle(title: string): void;
  setContent(...children: Child[]): void;
  close(): void;
}

const open = new Set<{ canDismiss: () => boolean; close: () => void }>();

/** On sign-out: closes every dialog except one still showing a secret that has not been confirmed saved. */
export function closeDismissableDialogs(): void {
  for (const entry of [...open]) if (entry.canDismiss()) entry.close();
}

/**
 * A modal built on <dialog>.showModal(): the browser makes the rest of the page inert and keeps Tab inside.
 * Focus goes back to whatever opened it.
 */
export function openDialog(options: DialogOptions): DialogHandle {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid('dialog-title');
  const title = h('h2', { id: titleId, class: 'dialog-title' }, options.title);
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: `dialog ${options.className ?? ''}`.trim(), 'aria-labelledby': titleId }, title, body);
  const canDismiss = options.canDismiss ?? (() => true);
  let closing = false;
  const entry = {
    canDismiss,
    close: () => {
      closing = true;
      dialog.close();
    },
  };

  dialog.addEventListener('cancel', (event) => {
    if (!canDismiss()) event.preventDefault();
  });
  dialog.addEventListener('close', () => {
    // Chromium lets a second Escape close a modal even when cancel was prevented; reopen rather than lose the secret.
    if (!closing && !canDismiss()) {
      dialog.showModal();
      return;
    }
    open.delete(entry);
    // Only take focus back if nothing else has claimed it meanwhile (e.g. the sign-in field after a sign-out).
    const active = document.activeElement;
    const focusIsLost = active === null || active === document.body || dialog.contains(active);
    dialog.remove();
    if (focusIsLost) {
      if (opener?.isConnected) opener.focus();
      else document.querySelector<HTMLElement>('main h1')?.focus();
    }
    options.onClosed?.();
  });

  document.body.append(dialog);
  dialog.showModal();
  open.add(entry);

  return {
    setTitle(text) {
      title.textContent = text;
    },
    setContent(...children) {
      body.replaceChildren();
      for (const child of children)
        if (child !== null && child !== undefined && child !== false)
          body.append(typeof child === 'object' ? child : String(child));
    },
    close: entry.close,
  };
}
