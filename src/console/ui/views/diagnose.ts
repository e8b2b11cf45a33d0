import type { Diagnosis, DiagnoseInput } from '../api.js';
import { h, uid } from '../dom.js';
import { PLATFORMS, PLATFORM_LABELS, type Platform, formatDateTime } from '../format.js';
import { type Ctx, errorBox, loading, pageHeader } from '../widgets.js';

const SECRET_STATES: Readonly<Record<string, string>> = { live: 'live', deleted: 'deleted', expired: 'expired' };

function textField(label: string, name: string, hint: string | null, multiline = false) {
  const id = uid(name);
  const hintId = hint ? uid(`${name}-hint`) : null;
  const attrs = { id, name, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': hintId };
  const input = multiline ? h('textarea', { ...attrs, rows: 3 }) : h('input', { ...attrs, type: 'text' });
  return {
    input,
    field: h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label),
      input,
      hint ? h('p', { id: hintId!, class: 'hint' }, hint) : null,
    ),
  };
}

function verdict(result: Diagnosis): HTMLElement {
  const secret = result.secret;
  const parts: Node[] = [
    h(
      'p',
      { class: `verdict ${result.verified ? 'verdict-ok' : 'verdict-fail'}` },
      result.verified ? 'Verified: identity verification accepts this now.' : 'Not verified: identity verification refuses this.',
    ),
  ];
  const facts: Node[] = [h('dt', {}, 'Method'), h('dd', {}, result.method === 'jwt' ? 'JWT' : 'user_hash')];
  if (result.user_id !== null) facts.push(h('dt', {}, 'Signed user_id'), h('dd', {}, result.user_id));
  if (result.email !== null) facts.push(h('dt', {}, 'Signed email'), h('dd', {}, result.email));
  facts.push(
    h('dt', {}, 'Signed with'),
    h(
      'dd',
      { class: 'diagnosed-secret' },
      secret
        ? `“${secret.name}” (id ${secret.id}, ${SECRET_STATES[secret.state] ?? secret.state}${
            typeof secret.deleted_at === 'number' ? `, deleted ${formatDateTime(secret.deleted_at)}` : ''
          })`
        : 'None of this workspace’s secrets',
    ),
  );
  parts.push(h('dl', { class: 'facts' }, ...facts));
  if (result.causes.length > 0) {
    parts.push(
      h('h2', {}, 'Why, most likely first'),
      h('ol', { class: 'causes' }, ...result.causes.map((c) => h('li', { 'data-code': c.code }, c.message))),
    );
  }
  return h('div', { class: 'diagnosis' }, ...parts);
}

/**
 * "Test a hash": the same body as a verification, answered by POST /identity_verification/diagnose with a verdict and
 * the likely causes of a failure. Nothing is stored; a user_hash is a signature, not a secret.
 */
export function diagnoseView(ctx: Ctx, container: HTMLElement): void {
  const platformId = uid('platform');
  const platform = h(
    'select',
    { id: platformId, name: 'platform' },
    ...PLATFORMS.map((p) => h('option', { value: p }, PLATFORM_LABELS[p])),
  );
  const userId = textField('user_id', 'user_id', 'The user_id your server signed (leave empty to sign the email).');
  const email = textField('email', 'email', null);
  const userHash = textField('user_hash', 'user_hash', 'HMAC-SHA256 hex, as your server computed it.');
  const jwt = textField(
    'Or an intercom_user_jwt',
    'intercom_user_jwt',
    'Instead of user_hash: the JWT your server signed.',
    true,
  );
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Test');
  const result = h('div', { class: 'diagnose-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'form diagnose-form' },
    h('div', { class: 'field' }, h('label', { for: platformId }, 'Platform'), platform),
    userId.field,
    email.field,
    userHash.field,
    jwt.field,
    h('div', { class: 'form-buttons' }, submit),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body: DiagnoseInput = { platform: platform.value as Platform };
    const put = (key: 'user_id' | 'email' | 'user_hash' | 'intercom_user_jwt', value: string) => {
      if (value.trim() !== '') body[key] = value.trim();
    };
    put('user_id', userId.input.value);
    put('email', email.input.value);
    put('user_hash', userHash.input.value);
    put('intercom_user_jwt', jwt.input.value);
    submit.disabled = true;
    result.replaceChildren(loading('Testing…'));
    ctx.api.diagnose(body).then(
      (diagnosis) => {
        submit.disabled = false;
        result.replaceChildren(verdict(diagnosis));
      },
      (err: unknown) => {
        submit.disabled = false;
        result.replaceChildren(errorBox(err, 'Could not test it'));
      },
    );
  });

  container.append(
    pageHeader(
      'Test a hash',
      'Paste what your server sends the Messenger for one user. secure-mode says whether identity verification accepts it and, if not, why.',
    ),
    h('div', { class: 'page-content' }, form, result),
  );
}
