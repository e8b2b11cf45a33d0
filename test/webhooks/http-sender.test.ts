import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isPublicAddress } from '../../src/domain/webhook-address.js';
import { HttpWebhookSender } from '../../src/webhooks/http-sender.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/** The outbound adapter: the SSRF rule on the address it connects to, the timeout, and short reasons for failures. */
describe('HttpWebhookSender', () => {
  const receiver = new WebhookReceiver();
  let url: string;
  before(async () => {
    url = await receiver.start();
  });
  after(async () => {
    await receiver.stop();
  });

  const send = (sender: HttpWebhookSender, to: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
    sender.send({
      url: to,
      headers: { 'webhook-id': 'evt_1', 'content-type': 'application/json' },
      body: '{"type":"secret.created"}',
      timeoutMs: options.timeoutMs ?? 5000,
      signal: options.signal ?? new AbortController().signal,
    });

  it('refuses, without connecting, an address the rule does not allow: a literal IP or a name that resolves to one', async () => {
    const publicOnly = new HttpWebhookSender(isPublicAddress);
    try {
      const before = receiver.received.length;
      for (const to of [url, url.replace('127.0.0.1', 'localhost'), url.replace('127.0.0.1', '[::ffff:127.0.0.1]')]) {
        const result = await send(publicOnly, to);
        assert.ok('error' in result && /address not allowed/.test(result.error), `${to}: ${JSON.stringify(result)}`);
      }
      assert.equal(receiver.received.length, before, 'nothing reached the receiver');
    } finally {
      publicOnly.close();
    }
  });

  it("sends the body and headers and reports the receiver's status", async () => {
    const sender = new HttpWebhookSender(() => true);
    try {
      receiver.answer = () => 202;
      assert.deepEqual(await send(sender, url), { status: 202 });
      const got = receiver.received.at(-1)!;
      assert.equal(got.body, '{"type":"secret.created"}');
      assert.equal(got.id, 'evt_1');
      receiver.answer = () => 500;
      assert.deepEqual(await send(sender, url), { status: 500 });
    } finally {
      receiver.answer = () => 204;
      sender.close();
    }
  });

  it('gives up on a receiver that does not answer within the timeout, or that drops the connection', async () => {
    const sender = new HttpWebhookSender(() => true);
    try {
      receiver.answer = () => 'hang';
      assert.deepEqual(await send(sender, url, { timeoutMs: 200 }), { error: 'timed out after 200 ms' });
      receiver.answer = () => 'drop';
      const dropped = await send(sender, url);
      assert.ok('error' in dropped, JSON.stringify(dropped));
      const aborted = new AbortController();
      receiver.answer = () => 'hang';
      const pending = send(sender, url, { signal: aborted.signal });
      await receiver.until(() => receiver.received.length > 0 && receiver.received.at(-1)!.attempt > 0);
      aborted.abort();
      assert.deepEqual(await pending, { error: 'shutdown' });
    } finally {
      receiver.answer = () => 204;
      sender.close();
    }
  });
});
