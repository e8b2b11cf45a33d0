import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';

/** Requests for no operation of ours, over raw TCP so that any method can be sent, get the documented error.list. */
describe('unknown methods and CONNECT', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  const send = (requestLine: string, headers = '') =>
    rawRequest(app.url, `${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`);

  function assertErrorList(res: RawResponse, status: number, code: string): void {
    assert.equal(res.status, status, res.raw);
    const body = JSON.parse(res.body);
    assert.equal(body.type, 'error.list');
    assert.equal(body.errors[0].code, code);
    assert.equal(body.request_id, res.headers['x-request-id']?.[0]);
  }

  it('answers CONNECT with 404 not_found instead of closing the connection', async () => {
    assertErrorList(await send('CONNECT example.com:443 HTTP/1.1'), 404, 'not_found');
    assertErrorList(await send('CONNECT 127.0.0.1:5432 HTTP/1.1'), 404, 'not_found');
  });

  it('answers any other method on a known or unknown path with 404 not_found, never 405', async () => {
    const auth = `Authorization: Bearer ${app.token}\r\n`;
    for (const method of ['PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE', 'SEARCH', 'QUERY']) {
      for (const path of ['/secure_mode_secrets', '/secure_mode_secrets/1', '/identity_verification/verify', '/nowhere']) {
        const res = await send(`${method} ${path} HTTP/1.1`, auth);
        assertErrorList(res, 404, 'not_found');
        assert.equal(res.headers.allow, undefined);
      }
    }
  });

  it('answers a method HTTP does not define as a malformed request, and keeps serving', async () => {
    assertErrorList(await send('FOO /secure_mode_secrets HTTP/1.1'), 400, 'bad_request');
    assert.equal((await api(app, 'GET', '/secure_mode_secrets')).status, 200);
  });

  it('says so in /openapi.json', async () => {
    const doc = (await api(app, 'GET', '/openapi.json', { token: null })).body;
    assert.match(
      doc.info.description,
      /not listed here \(CONNECT and OPTIONS included\) answers 404 not_found as an error\.list, never 405/,
    );
  });
});
