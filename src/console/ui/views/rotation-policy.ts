import { ApiFailure } from '../api.js';
import { h, uid } from '../dom.js';
import { formatDateTime } from '../format.js';
import { MAX_MAX_AGE_DAYS, MIN_MAX_AGE_DAYS, type RotationPolicy, parsePolicyForm } from '../policy.js';
import { durationText } from '../rotations.js';
import { type Ctx, errorBox, errorText, loading } from '../widgets.js';
import { IDLE_CHOICES } from './rotate-dialog.js';

type Field = 'max_age_days' | 'idle_for' | 'auto_rotate';

/** The workspace's rotation policy: filled from GET, saved with PUT; a refusal's message goes under its field. */
export function rotationPolicySection(ctx: Ctx): HTMLElement {
  const headingId = uid('policy-heading');
  const body = h('div', {}, loading('Loading the rotation policy…'));
  const section = h(
    'section',
    { class: 'policy', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, 'Rotation policy'),
    body,
  );
  ctx.api.getRotationPolicy().then(
    (policy) => body.replaceChildren(form(policy)),
    (err: unknown) => body.replaceChildren(errorBox(err, 'Could not load the rotation policy')),
  );

  function form(policy: RotationPolicy): HTMLFormElement {
    const ids = { max_age_days: uid('max-age'), idle_for: uid('idle-for'), auto_rotate: uid('auto-rotate') };
    const errors: Record<Field, HTMLParagraphElement> = {
      max_age_days: h('p', { id: `${ids.max_age_days}-error`, class: 'field-error' }),
      idle_for: h('p', { id: `${ids.idle_for}-error`, class: 'field-error' }),
      auto_rotate: h('p', { id: `${ids.auto_rotate}-error`, class: 'field-error' }),
    };
    const maxAge = h('input', {
      id: ids.max_age_days,
      name: 'max_age_days',
      type: 'text',
      inputmode: 'numeric',
      autocomplete: 'off',
      size: 6,
      'aria-describedby': `${ids.max_age_days}-hint ${ids.max_age_days}-error`,
    });
    maxAge.value = policy.max_age_days === null ? '' : String(policy.max_age_days);
    const choices = IDLE_CHOICES.some((c) => c.seconds === policy.idle_for)
      ? IDLE_CHOICES
      : [...IDLE_CHOICES, { seconds: policy.idle_for, label: durationText(policy.idle_for) }];
    const idle = h(
      'select',
      { id: ids.idle_for, name: 'idle_for', 'aria-describedby': `${ids.idle_for}-error` },
      ...choices.map((c) => h('option', { value: c.seconds, selected: c.seconds === policy.idle_for }, c.label)),
    );
    const auto = h('input', {
      type: 'checkbox',
      id: ids.auto_rotate,
      name: 'auto_rotate',
      checked: policy.auto_rotate,
      'aria-describedby': `${ids.auto_rotate}-error`,
    });
    const controls: Record<Field, HTMLElement> = { max_age_days: maxAge, idle_for: idle, auto_rotate: auto };
    const errorArea = h('div', { class: 'form-error' });
    const status = h('p', { class: 'muted small', role: 'status' }, updatedText(policy));
    const submit = h('button', { type: 'submit', class: 'button primary' }, 'Save policy');

    const clearErrors = () => {
      errorArea.replaceChildren();
      for (const f of Object.keys(errors) as Field[]) {
        errors[f].replaceChildren();
        controls[f].removeAttribute('aria-invalid');
      }
    };
    const fieldError = (f: Field, message: string) => {
      errors[f].replaceChildren(h('span', { role: 'alert' }, message));
      controls[f].setAttribute('aria-invalid', 'true');
      controls[f].focus();
    };

    const el = h(
      'form',
      { class: 'form policy-form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: ids.max_age_days }, 'Maximum age of a secret, in days'),
        maxAge,
        h(
          'p',
          { id: `${ids.max_age_days}-hint`, class: 'hint' },
          `${MIN_MAX_AGE_DAYS} to ${MAX_MAX_AGE_DAYS}; empty for none. An older live secret is marked Due for rotation on the Secrets page and raises secret.due_for_rotation once.`,
        ),
        errors.max_age_days,
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: ids.idle_for }, 'Rotations the server starts delete the old secret after it has been idle for'),
        idle,
        errors.idle_for,
      ),
      h(
        'div',
        { class: 'field' },
        h(
          'div',
          { class: 'check' },
          auto,
          h('label', { for: ids.auto_rotate }, 'Rotate due secrets automatically (needs a rollout command on the server)'),
        ),
        errors.auto_rotate,
      ),
      errorArea,
      h('div', { class: 'actions' }, submit),
      status,
    );
    el.addEventListener('submit', (event) => {
      event.preventDefault();
      clearErrors();
      const parsed = parsePolicyForm(maxAge.value, idle.value, auto.checked);
      if (!parsed.ok) {
        fieldError(parsed.field, parsed.message);
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Saving…';
      ctx.api.putRotationPolicy(parsed.input).then(
        (saved) => {
          submit.disabled = false;
          submit.textContent = 'Save policy';
          status.textContent = updatedText(saved);
          ctx.announce('Rotation policy saved.');
        },
        (err: unknown) => {
          submit.disabled = false;
          submit.textContent = 'Save policy';
          const field = err instanceof ApiFailure ? err.field : null;
          if (field === 'max_age_days' || field === 'idle_for' || field === 'auto_rotate')
            fieldError(field, `Not saved: ${errorText(err).message}`);
          else errorArea.append(errorBox(err, 'Not saved'));
        },
      );
    });
    return el;
  }

  return section;
}

function updatedText(policy: RotationPolicy): string {
  return policy.updated_at === null ? 'Never set: these are the defaults.' : `Last saved ${formatDateTime(policy.updated_at)}.`;
}
