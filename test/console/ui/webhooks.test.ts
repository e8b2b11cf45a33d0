import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WEBHOOK_EVENT_TYPES as SERVER_TYPES } from '../../../src/domain/audit-actions.js';
import {
  WEBHOOK_EVENT_TYPES,
  chosenEvents,
  createInput,
  deliveryOutcome,
  endpointPath,
  eventsText,
} from '../../../src/console/ui/webhooks.js';

describe('console: webhooks page rules', () => {
  it('offers exactly the server’s event types, in its order', () => {
    assert.deepEqual([...WEBHOOK_EVENT_TYPES], [...SERVER_TYPES]);
  });

  it('sends ["*"] for all events, else the ticked known types in the server’s order, and null for none', () => {
    assert.deepEqual(chosenEvents(true, ['secret.created']), ['*']);
    assert.deepEqual(chosenEvents(false, ['rotation.started', 'secret.created']), ['secret.created', 'rotation.started']);
    assert.deepEqual(chosenEvents(false, ['made.up']), null);
    assert.equal(chosenEvents(false, []), null);
  });

  it('trims the URL and leaves out an empty description', () => {
    assert.deepEqual(createInput('  https://example.com/h ', ['*'], '   '), { url: 'https://example.com/h', events: ['*'] });
    assert.deepEqual(createInput('https://example.com/h', ['*'], ' Billing sync '), {
      url: 'https://example.com/h',
      events: ['*'],
      description: 'Billing sync',
    });
  });

  it('describes events and delivery outcomes in words', () => {
    assert.equal(eventsText(['*']), 'All events');
    assert.equal(eventsText(['secret.created', 'secret.deleted']), 'secret.created, secret.deleted');
    assert.deepEqual(deliveryOutcome({ status: 204, error: null, state: 'succeeded' }), { text: 'HTTP 204', ok: true });
    assert.deepEqual(deliveryOutcome({ status: 500, error: null, state: 'pending' }), {
      text: 'HTTP 500 · will retry',
      ok: false,
    });
    assert.deepEqual(deliveryOutcome({ status: null, error: 'timed out', state: 'failed' }), {
      text: 'timed out · retries over',
      ok: false,
    });
    assert.deepEqual(deliveryOutcome({ status: null, error: null, state: 'pending' }), {
      text: 'No answer · will retry',
      ok: false,
    });
  });

  it('escapes ids in paths', () => {
    assert.equal(endpointPath('3'), '/webhook_endpoints/3');
    assert.equal(endpointPath('a/b', '/deliveries'), '/webhook_endpoints/a%2Fb/deliveries');
  });
});
