import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { WebhookReceiver } from '../../../helpers/webhook-receiver.js';

/**
 * A receiver that never answers must not hold up the API or verification: deliveries run off the request path, so
 * while every one of them hangs (more than the dispatcher sends at once), writes and verifications keep answering.
 * Shown by order, not by timing: each answer arrives while its own event's delivery is still hanging.
 */
describe('webhooks: a receiver that never answers', () => {
  let app: TestApp;
  const receiver = new WebhookReceiver();
  let endpointId: string;
  before(async () => {
    const url = await receiver.start();
    receiver.answer = () => 'hang';
    app = await startTestApp({ env: { SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true' } });
    const endpoint = await api(app, 'POST', '/webhook_endpoints', { body: { url, events: ['*'] } });
    assert.equal(endpoint.status, 201, endpoint.text);
    endpointId = endpoint.body.id;
  });
  after(async () => {
    await app.close();
    await receiver.stop();
  });

  it('holds up neither writes nor verifications, while every delivery hangs', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Hung', supports_web: true } });
    assert.equal(created.status, 201);
    await receiver.until(() => receiver.received.length >= 1);
    const secret = created.body.secret as string;
    // More events than the dispatcher sends at once (16), so its every slot is taken by a request that hangs.
    for (let i = 0; i < 24; i++) {
      const updated = await api(app, 'PUT', `/secure_mode_secrets/${created.body.id}`, { body: { name: `Hung ${i}` } });
      assert.equal(updated.status, 200, updated.text);
    }
    await receiver.until(() => receiver.received.length >= 16);
    const verifications = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const userId = `user-${i}`;
        return api(app, 'POST', '/identity_verification/verify', {
          body: {
            app_id: app.workspace.appId,
            platform: 'web',
            user_id: userId,
            user_hash: createHmac('sha256', secret).update(userId).digest('hex'),
          },
        });
      }),
    );
    assert.deepEqual(
      verifications.map((v) => v.status),
      verifications.map(() => 200),
    );
    const listed = await api(app, 'GET', '/secure_mode_secrets');
    assert.equal(listed.status, 200);
    // None of the deliveries has been answered: everything above was answered while they all still hung.
    const deliveries = (await api(app, 'GET', `/webhook_endpoints/${endpointId}/deliveries`)).body.data as {
      status: number | null;
    }[];
    assert.ok(deliveries.every((d) => d.status === null));
  });
});
