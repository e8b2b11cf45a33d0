import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { type RawDb, openRawDb } from '../../../helpers/raw-db.js';

interface Event {
  id: string;
  action: string;
  created_at: number;
  actor: { token_id: string | null; ip: string | null };
  request_id: string | null;
  target: { type: string; id: string };
  details: Record<string, unknown>;
}

describe('audit log: GET /audit_events', () => {
  let app: TestApp;
  let db: RawDb;
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 8, 0, 0));
  before(async () => {
    app = await startTestApp({ clock });
    // A second connection to the same file injects faults with triggers, as a failing disk or constraint would.
    db = await openRawDb(app.dir);
  });
  after(async () => {
    await db.close();
    await app.close();
  });

  const allEvents = async (query = ''): Promise<Event[]> => {
    const out: Event[] = [];
    let cursor: string | null = null;
    do {
      const sep = query ? '&' : '';
      const page: { body: { data: Event[]; pages: { next: { starting_after: string } | null } } } = await api(
        app,
        'GET',
        `/audit_events?${query}${sep}limit=2${cursor ? `&starting_after=${cursor}` : ''}`,
      );
      out.push(...page.body.data);
      cursor = page.body.pages.next?.starting_after ?? null;
    } while (cursor);
    return out;
  };
  const failOn = (name: string, timing: string, table: string, when?: string) => db.failOn(name, timing, table, when);
  const heal = (name: string) => db.heal(name);
  const eventsFor = async (targetId: string) =>
    (await allEvents()).filter((e) => e.target.id === targetId && e.target.type === 'secret');

  it('records each lifecycle action exactly once, with actor, request id and no material', async () => {
    const startEvents = await allEvents();
    const tokenAtStart = startEvents.filter((e) => e.action === 'token.created').length;

    const created = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'Audited', supports_web: true },
      headers: { 'idempotency-key': 'k1' },
    });
    await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'Audited', supports_web: true },
      headers: { 'idempotency-key': 'k1' },
    });
    const id = created.body.id as string;
    const updated = await api(app, 'PUT', `/secure_mode_secrets/${id}`, { body: { name: 'Audited 2', supports_ios: true } });
    assert.equal(updated.status, 200);
    const toExpire = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Expiring', supports_web: true } });
    await api(app, 'PUT', `/secure_mode_secrets/${toExpire.body.id}`, { body: { expires_at: nowSeconds(clock) + 5 } });
    clock.advance(5000);
    await app.runtime.sweeper.sweep();
    const deleted = await api(app, 'DELETE', `/secure_mode_secrets/${id}?if_idle_for=60`);
    assert.equal(deleted.status, 204);
    const { token } = await app.runtime.workspaces.createToken(app.workspace, ['read_all'], 'audited token');
    await app.runtime.workspaces.revokeToken(token.id);

    const events = await allEvents();
    const mine = events.filter((e) => e.target.type === 'secret' && e.target.id === id);
    assert.deepEqual(
      mine.map((e) => e.action),
      ['secret.deleted', 'secret.updated', 'secret.created'],
    );
    const [del, upd, cre] = mine as [Event, Event, Event];
    assert.equal(cre.request_id, created.headers.get('x-request-id'));
    assert.equal(upd.request_id, updated.headers.get('x-request-id'));
    assert.equal(del.request_id, deleted.headers.get('x-request-id'));
    assert.equal(cre.actor.ip, '127.0.0.1');
    assert.match(cre.actor.token_id ?? '', /^[0-9]+$/);
    assert.deepEqual(cre.details, {
      name: 'Audited',
      supports_web: true,
      supports_ios: false,
      supports_android: false,
      idempotent: true,
    });
    assert.deepEqual(upd.details, { name: 'Audited 2', supports_web: true, supports_ios: true, supports_android: false });
    assert.deepEqual(del.details, { name: 'Audited 2', if_idle_for: 60 });
    assert.deepEqual(
      events.filter((e) => e.target.type === 'secret' && e.target.id === toExpire.body.id).map((e) => e.action),
      ['secret.expired', 'secret.updated', 'secret.created'],
    );
    const tokenEvents = events.filter((e) => e.target.type === 'token' && e.target.id === String(token.id));
    assert.deepEqual(
      tokenEvents.map((e) => e.action),
      ['token.revoked', 'token.created'],
    );
    assert.equal(events.filter((e) => e.action === 'token.created').length, tokenAtStart + 1);

    // Newest first, ids strictly decreasing across pages; nothing secret anywhere.
    const ids = events.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    assert.equal(new Set(ids).size, ids.length);
    const text = JSON.stringify(events);
    for (const value of [created.body.secret, toExpire.body.secret, app.token]) assert.ok(!text.includes(value));
  });

  it('filters by action and time range, and validates parameters', async () => {
    const only = await allEvents('action=secret.updated');
    assert.ok(only.length >= 2);
    assert.ok(only.every((e) => e.action === 'secret.updated'));
    const t = nowSeconds(clock);
    clock.advance(10_000);
    const later = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Later', supports_web: true } });
    const since = await allEvents(`since=${t + 1}`);
    assert.deepEqual(
      since.map((e) => e.target.id),
      [later.body.id],
    );
    const until = await allEvents(`until=${t}`);
    assert.ok(until.every((e) => e.created_at <= t) && until.length > 0);
    assert.ok(!until.some((e) => e.target.type === 'secret' && e.target.id === later.body.id));

    for (const [query, field] of [
      ['action=secret.exploded', 'action'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['starting_after=nonsense!', 'starting_after'],
      ['since=yesterday', 'since'],
      [`since=${t + 10}&until=${t}`, 'since'],
    ]) {
      const res = await api(app, 'GET', `/audit_events?${query}`);
      assert.equal(res.status, 422, query);
      assert.equal(res.body.errors[0].field, field, query);
    }
    const reader = await app.tokenWith(['read_all']);
    assert.equal((await api(app, 'GET', '/audit_events', { token: reader })).status, 200);
    const writer = await app.tokenWith(['write_secure_mode_secret']);
    assert.equal((await api(app, 'GET', '/audit_events', { token: writer })).status, 403);
    // Not an Intercom path: a stable Intercom-Version does not matter.
    assert.equal((await api(app, 'GET', '/audit_events', { headers: { 'intercom-version': '2.11' } })).status, 200);
    const other = await app.otherWorkspace();
    const theirs = await api(app, 'GET', '/audit_events', { token: other.token });
    assert.ok(theirs.body.data.every((e: Event) => e.target.type !== 'secret'));
  });

  it('no event without the change, no change without the event, when a change fails halfway', async () => {
    for (const s of (await api(app, 'GET', '/secure_mode_secrets')).body.data)
      await api(app, 'DELETE', `/secure_mode_secrets/${s.id}`);
    const before = (await allEvents()).length;
    const live = async () =>
      (await api(app, 'GET', '/secure_mode_secrets')).body.data as { id: string; name: string; expires_at: number | null }[];

    // Create: the audit insert fails after the row and its ciphertext were written.
    await failOn('f_create', 'BEFORE INSERT', 'audit_events', "NEW.action = 'secret.created'");
    const failed = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Half', supports_web: true } });
    assert.equal(failed.status, 500);
    assert.equal(failed.body.errors[0].code, 'server_error');
    assert.deepEqual(await live(), []);
    await heal('f_create');
    // Create with a key: the replay record fails after the secret and its event.
    await failOn('f_idem', 'BEFORE INSERT', 'idempotency_keys');
    assert.equal(
      (
        await api(app, 'POST', '/secure_mode_secrets', {
          body: { name: 'Half', supports_web: true },
          headers: { 'idempotency-key': 'half' },
        })
      ).status,
      500,
    );
    assert.deepEqual(await live(), []);
    await heal('f_idem');
    assert.equal((await allEvents()).length, before);

    const ok = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'Half', supports_web: true },
      headers: { 'idempotency-key': 'half' },
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get('idempotent-replayed'), null);
    const id = ok.body.id as string;

    // Update: the change itself fails, then the event fails after the change.
    await failOn('f_update_row', 'BEFORE UPDATE OF name', 'secrets');
    assert.equal((await api(app, 'PUT', `/secure_mode_secrets/${id}`, { body: { name: 'Renamed' } })).status, 500);
    await heal('f_update_row');
    await failOn('f_update', 'BEFORE INSERT', 'audit_events', "NEW.action = 'secret.updated'");
    assert.equal((await api(app, 'PUT', `/secure_mode_secrets/${id}`, { body: { name: 'Renamed' } })).status, 500);
    await heal('f_update');
    assert.equal((await live())[0]?.name, 'Half');

    // Delete and expiry: the event fails after the soft delete.
    await failOn('f_delete', 'BEFORE INSERT', 'audit_events', "NEW.action IN ('secret.deleted', 'secret.expired')");
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${id}`)).status, 500);
    assert.deepEqual(
      (await live()).map((s) => s.id),
      [id],
    );
    assert.equal(
      (await api(app, 'PUT', `/secure_mode_secrets/${id}`, { body: { expires_at: nowSeconds(clock) + 1 } })).status,
      200,
    );
    clock.advance(1000);
    await assert.rejects(app.runtime.sweeper.sweep());
    assert.deepEqual(
      (await live()).map((s) => s.id),
      [id],
    );
    await heal('f_delete');

    // Tokens: the event fails after the insert / the revocation.
    await failOn('f_token', 'BEFORE INSERT', 'audit_events', "NEW.target_type = 'token'");
    const tokensBefore = (await app.runtime.workspaces.listTokens(app.workspace.id)).length;
    await assert.rejects(app.runtime.workspaces.createToken(app.workspace, ['read_all'], 'half'));
    assert.equal((await app.runtime.workspaces.listTokens(app.workspace.id)).length, tokensBefore);
    await heal('f_token');
    const { token } = await app.runtime.workspaces.createToken(app.workspace, ['read_all'], 'whole');
    await failOn('f_token', 'BEFORE INSERT', 'audit_events', "NEW.target_type = 'token'");
    await assert.rejects(app.runtime.workspaces.revokeToken(token.id));
    await heal('f_token');
    const stillLive = (await app.runtime.workspaces.listTokens(app.workspace.id)).find((t) => t.id === token.id);
    assert.equal(stillLive?.revokedAt, null);

    // Healed: each change now happens once, with exactly one event.
    assert.equal((await api(app, 'PUT', `/secure_mode_secrets/${id}`, { body: { name: 'Renamed' } })).status, 200);
    await app.runtime.sweeper.sweep();
    await app.runtime.workspaces.revokeToken(token.id);
    const events = await allEvents();
    assert.deepEqual(
      (await eventsFor(id)).map((e) => e.action),
      ['secret.expired', 'secret.updated', 'secret.updated', 'secret.created'],
    );
    assert.deepEqual(
      events.filter((e) => e.target.type === 'token' && e.target.id === String(token.id)).map((e) => e.action),
      ['token.revoked', 'token.created'],
    );
    assert.equal(events.length, before + 6);
  });
});
