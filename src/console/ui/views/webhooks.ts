import { ApiFailure } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, uid } from '../dom.js';
import { formatDateTime, plural } from '../format.js';
import {
  type CreatedWebhookEndpoint,
  type WebhookDelivery,
  type WebhookEndpoint,
  WEBHOOK_EVENT_TYPES,
  chosenEvents,
  createInput,
  deliveryOutcome,
  eventsText,
} from '../webhooks.js';
import { type Ctx, button, errorBox, errorText, loading, pageHeader, whenEl } from '../widgets.js';
import { showSecretOnce } from './secret-once.js';

type FieldName = 'url' | 'events' | 'description';

/**
 * Step one asks for the URL, the events and a description; step two shows the signing secret once, in the same
 * show-once step as a secret's. A refusal's message goes under the field it names.
 */
function openCreateWebhookDialog(ctx: Ctx, onCreated: (endpoint: WebhookEndpoint) => void): void {
  let created: CreatedWebhookEndpoint | null = null;
  let saved = false;
  const handle = openDialog({
    title: 'Add a webhook endpoint',
    canDismiss: () => created === null || saved,
    onClosed: () => {
      if (created) onCreated(created);
    },
  });

  const ids = { url: uid('webhook-url'), events: uid('webhook-events'), description: uid('webhook-description') };
  const errorIds = {
    url: uid('webhook-url-error'),
    events: uid('webhook-events-error'),
    description: uid('webhook-description-error'),
  };
  const fieldErrors: Record<FieldName, HTMLParagraphElement> = {
    url: h('p', { id: errorIds.url, class: 'field-error' }),
    events: h('p', { id: errorIds.events, class: 'field-error' }),
    description: h('p', { id: errorIds.description, class: 'field-error' }),
  };
  const url = h('input', {
    id: ids.url,
    name: 'url',
    type: 'url',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': `${ids.url}-hint ${errorIds.url}`,
  });
  const description = h('input', {
    id: ids.description,
    name: 'description',
    type: 'text',
    maxlength: 255,
    autocomplete: 'off',
    'aria-describedby': errorIds.description,
  });
  const allId = uid('webhook-all');
  const all = h('input', { type: 'checkbox', id: allId, name: 'all', checked: true });
  const boxes = WEBHOOK_EVENT_TYPES.map((type) => {
    const id = uid('webhook-event');
    return { type, box: h('input', { type: 'checkbox', id, name: type, value: type, disabled: true }), id };
  });
  all.addEventListener('change', () => {
    for (const b of boxes) b.box.disabled = all.checked;
  });
  const events = h(
    'fieldset',
    { class: 'field', id: ids.events, 'aria-describedby': errorIds.events },
    h('legend', {}, 'Events'),
    h('div', { class: 'check' }, all, h('label', { for: allId }, 'All events, including types added later')),
    h(
      'ul',
      { class: 'checks event-types' },
      ...boxes.map((b) => h('li', { class: 'check' }, b.box, h('label', { for: b.id }, h('code', {}, b.type)))),
    ),
    fieldErrors.events,
  );
  const errorArea = h('div', { class: 'form-error' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Add endpoint');
  const cancel = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: ids.url }, 'URL'),
      url,
      h(
        'p',
        { id: `${ids.url}-hint`, class: 'hint' },
        'An https address on the public internet; events are POSTed to it, signed as Standard Webhooks.',
      ),
      fieldErrors.url,
    ),
    events,
    h(
      'div',
      { class: 'field' },
      h('label', { for: ids.description }, 'Description (optional)'),
      description,
      fieldErrors.description,
    ),
    errorArea,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );

  const controls: Record<FieldName, HTMLElement> = { url, events: all, description };
  function clearErrors(): void {
    errorArea.replaceChildren();
    for (const name of Object.keys(fieldErrors) as FieldName[]) {
      fieldErrors[name].replaceChildren();
      controls[name].removeAttribute('aria-invalid');
    }
  }
  function fieldError(name: FieldName, message: string): void {
    fieldErrors[name].replaceChildren(h('span', { role: 'alert' }, message));
    controls[name].setAttribute('aria-invalid', 'true');
    controls[name].focus();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const chosen = chosenEvents(
      all.checked,
      boxes.filter((b) => b.box.checked).map((b) => b.type),
    );
    if (!chosen) {
      fieldError('events', 'Choose at least one event type, or all events.');
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Adding…';
    ctx.api.createWebhookEndpoint(createInput(url.value, chosen, description.value)).then(
      (endpoint) => {
        created = endpoint;
        showSecretOnce(
          handle,
          `Save the signing secret for ${endpoint.url}`,
          endpoint.secret,
          () => {
            saved = true;
          },
          h(
            'p',
            { class: 'hint' },
            'Your receiver verifies each delivery with it (the webhook-signature header, Standard Webhooks). See docs/events.md.',
          ),
        );
      },
      (err: unknown) => {
        submit.disabled = false;
        submit.textContent = 'Add endpoint';
        const field = err instanceof ApiFailure ? err.field : null;
        if (field === 'url' || field === 'events' || field === 'description') fieldError(field, errorText(err).message);
        else errorArea.append(errorBox(err, 'Not added'));
      },
    );
  });

  handle.setContent(form);
  url.focus();
}

function openDeleteWebhookDialog(ctx: Ctx, endpoint: WebhookEndpoint, onDeleted: () => void): void {
  const handle = openDialog({ title: 'Delete this webhook endpoint?', className: 'dialog-danger' });
  const errorArea = h('div', { class: 'form-error' });
  const cancel = h('button', { type: 'button', class: 'button secondary', onClick: () => handle.close() }, 'Cancel');
  const confirm = h('button', { type: 'button', class: 'button danger' }, 'Delete endpoint');
  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    confirm.textContent = 'Deleting…';
    errorArea.replaceChildren();
    ctx.api.deleteWebhookEndpoint(endpoint.id).then(
      () => {
        handle.close();
        onDeleted();
      },
      (err: unknown) => {
        confirm.disabled = false;
        confirm.textContent = 'Delete endpoint';
        errorArea.append(errorBox(err, 'Not deleted'));
      },
    );
  });
  handle.setContent(
    h('p', {}, h('code', {}, endpoint.url)),
    h('p', {}, 'It gets no more events, and deliveries still waiting for it are dropped. Its signing secret is gone for good.'),
    errorArea,
    h('div', { class: 'dialog-actions' }, cancel, confirm),
  );
  cancel.focus();
}

function deliveriesTable(deliveries: readonly WebhookDelivery[], now: number): HTMLElement {
  if (deliveries.length === 0) return h('p', { class: 'muted' }, 'No deliveries yet.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'compact deliveries' },
      h('caption', { class: 'visually-hidden' }, 'Delivery attempts, newest first'),
      h('thead', {}, h('tr', {}, ...['Event', 'Type', 'Time', 'Outcome', 'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        ...deliveries.map((d) => {
          const outcome = deliveryOutcome(d);
          return h(
            'tr',
            { 'data-delivery-id': d.id, 'data-state': d.state },
            h('td', { 'data-label': 'Event' }, h('code', { class: 'event-id' }, d.event_id)),
            h('td', { 'data-label': 'Type' }, h('code', {}, d.event_type)),
            h('td', { 'data-label': 'Time' }, whenEl(d.attempted_at, now)),
            h('td', { 'data-label': 'Outcome', class: outcome.ok ? 'delivery-ok' : 'delivery-failed' }, outcome.text),
            h('td', { 'data-label': 'Duration' }, `${d.duration_ms.toLocaleString('en')} ms`),
          );
        }),
      ),
    ),
  );
}

function deliveriesBlock(ctx: Ctx, endpoint: WebhookEndpoint): HTMLDetailsElement {
  const body = h('div', { class: 'deliveries-body' });
  async function load(): Promise<void> {
    body.replaceChildren(loading('Loading deliveries…'));
    try {
      const { data } = await ctx.api.listWebhookDeliveries(endpoint.id);
      body.replaceChildren(
        deliveriesTable(data, ctx.nowS()),
        h('p', { class: 'muted small updated' }, `Updated ${formatDateTime(ctx.nowS())}. The latest 100 attempts.`),
      );
    } catch (err) {
      body.replaceChildren(errorBox(err, 'Could not load the deliveries'));
    }
  }
  const details = h(
    'details',
    { class: 'deliveries' },
    h('summary', {}, 'Deliveries'),
    h(
      'div',
      { class: 'actions' },
      button('Refresh deliveries', () => void load(), 'ghost', { 'aria-label': `Refresh deliveries to ${endpoint.url}` }),
    ),
    body,
  );
  // Read on opening (and again on each Refresh), not for every endpoint on every page load.
  details.addEventListener('toggle', () => {
    if (details.open) void load();
  });
  return details;
}

export function webhooksView(ctx: Ctx, container: HTMLElement): void {
  const content = h('div', { class: 'page-content' });
  const reload = () => void load();
  container.append(
    pageHeader(
      'Webhooks',
      'Endpoints that receive the workspace’s events (secret created, rotation started, …), signed as Standard Webhooks with a secret shown once when the endpoint is added.',
      button('Refresh', reload),
      button(
        'Add endpoint',
        () =>
          openCreateWebhookDialog(ctx, (e) => {
            ctx.announce(`Webhook endpoint ${e.url} added.`);
            reload();
          }),
        'primary',
      ),
    ),
    content,
  );

  function card(endpoint: WebhookEndpoint, now: number): HTMLElement {
    return h(
      'article',
      { class: 'webhook', 'data-endpoint-id': endpoint.id },
      h('div', { class: 'rotation-head' }, h('h2', { class: 'webhook-url' }, endpoint.url)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Events'),
        h('dd', { class: 'webhook-events' }, eventsText(endpoint.events)),
        h('dt', {}, 'Description'),
        h('dd', {}, endpoint.description ?? h('span', { class: 'muted' }, 'None')),
        h('dt', {}, 'Added'),
        h('dd', {}, whenEl(endpoint.created_at, now)),
      ),
      h(
        'div',
        { class: 'actions' },
        button(
          'Delete…',
          () =>
            openDeleteWebhookDialog(ctx, endpoint, () => {
              ctx.announce(`Webhook endpoint ${endpoint.url} deleted.`);
              reload();
            }),
          'danger-ghost',
          { 'aria-label': `Delete the endpoint ${endpoint.url}` },
        ),
      ),
      deliveriesBlock(ctx, endpoint),
    );
  }

  async function load(): Promise<void> {
    content.replaceChildren(loading('Loading webhook endpoints…'));
    let endpoints: WebhookEndpoint[];
    try {
      endpoints = (await ctx.api.listWebhookEndpoints()).data;
    } catch (err) {
      content.replaceChildren(errorBox(err, 'Could not load the webhook endpoints'));
      return;
    }
    if (!container.isConnected) return;
    const now = ctx.nowS();
    content.replaceChildren(
      endpoints.length === 0
        ? h(
            'div',
            { class: 'empty' },
            h('p', {}, 'No webhook endpoints yet. Add one to hear about secrets and rotations as they happen.'),
          )
        : h(
            'div',
            { class: 'webhooks' },
            h('p', { class: 'hint' }, plural(endpoints.length, 'endpoint')),
            ...endpoints.map((e) => card(e, now)),
          ),
    );
  }

  reload();
}
