import { ApiClient } from '../api.js';
import { h, uid } from '../dom.js';
import { errorBox } from '../widgets.js';

/**
 * Sign-in is pasting an access token. It is checked by listing secrets (which needs a read scope) before
 * the console keeps it.
 */
export function signInView(container: HTMLElement, notice: string | null, onSignedIn: (token: string) => void): void {
  const tokenId = uid('token');
  const hintId = uid('token-hint');
  const token = h('input', {
    id: tokenId,
    name: 'token',
    type: 'password',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'aria-describedby': hintId,
  });
  const errorArea = h('div', { class: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'form signin-form' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: tokenId }, 'Access token'),
      token,
      h(
        'p',
        { id: hintId, class: 'hint' },
        'Paste an access token of your workspace (secure-mode tokens create, or the one printed at first start). The console keeps it only in this browser tab, and forgets it when you sign out or close the tab.',
      ),
    ),
    errorArea,
    h('div', { class: 'form-buttons' }, submit),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    errorArea.replaceChildren();
    const value = token.value.trim();
    if (value === '') return;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    new ApiClient(value).listSecrets().then(
      () => {
        token.value = '';
        onSignedIn(value);
      },
      (err: unknown) => {
        submit.disabled = false;
        submit.textContent = 'Sign in';
        errorArea.append(errorBox(err, 'Not signed in'));
        token.focus();
        token.select();
      },
    );
  });

  container.replaceChildren(
    h(
      'main',
      { id: 'main', class: 'signin', tabindex: '-1' },
      h(
        'div',
        { class: 'signin-card' },
        h('p', { class: 'brand' }, 'secure-mode'),
        h('h1', { tabindex: '-1' }, 'Sign in to the console'),
        notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
        form,
      ),
    ),
  );
  token.focus();
}
