import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildConsole } from '../../../src/console/build.js';
import { CONSOLE_CSP } from '../../../src/http/routes/console.js';
import { api, startTestApp, type TestApp } from '../../helpers/app.js';

describe('console static files', () => {
  let app: TestApp;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-console-'));
    await buildConsole(dir);
    app = await startTestApp({ env: { SECURE_MODE_CONSOLE_DIR: dir } });
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves each file with its type and the console security headers', async () => {
    const cases: Array<[string, string]> = [
      ['/console', 'text/html; charset=utf-8'],
      ['/console/', 'text/html; charset=utf-8'],
      ['/console/console.js', 'text/javascript; charset=utf-8'],
      ['/console/console.css', 'text/css; charset=utf-8'],
      ['/console/icon.svg', 'image/svg+xml'],
    ];
    for (const [path, type] of cases) {
      const res = await fetch(`${app.url}${path}`);
      await res.arrayBuffer();
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), type, path);
      assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(res.headers.get('cache-control'), 'no-cache');
    }
  });

  it('answers a revalidation with 304 while the file is unchanged', async () => {
    const first = await fetch(`${app.url}/console/console.js`);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${app.url}/console/console.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('content-security-policy'), CONSOLE_CSP);
  });

  it('serves nothing outside its four files', async () => {
    for (const path of [
      '/console/package.json',
      '/console/..%2Fpackage.json',
      '/console/__proto__',
      '/console/constructor',
      '/console/build.ts',
    ]) {
      const res = await api(app, 'GET', path, { token: null });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.type, 'error.list');
      assert.equal(res.body.errors[0].code, 'not_found');
    }
  });

  it('ships no inline script or style, no eval and no external URL', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const js = readFileSync(join(dir, 'console.js'), 'utf8');
    const css = readFileSync(join(dir, 'console.css'), 'utf8');
    for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.match(tag, /src="\/console\/console\.js"/);
    assert.doesNotMatch(html, /<style|style=|\son[a-z]+=/i);
    assert.doesNotMatch(js, /\beval\(|new Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    // The SVG namespace is an identifier, not a request.
    for (const text of [html, js, css])
      assert.doesNotMatch(text.replaceAll('http://www.w3.org/2000/svg', ''), /https?:\/\/|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
    assert.doesNotMatch(css, /@import|url\(/);
  });

  it('is not part of the OpenAPI document', async () => {
    const doc = await api(app, 'GET', '/openapi.json', { token: null });
    assert.equal(
      Object.keys(doc.body.paths).some((p) => p.startsWith('/console')),
      false,
    );
  });

  it('answers 503 with an error list when the console is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'secure-mode-console-empty-'));
    const bare = await startTestApp({ env: { SECURE_MODE_CONSOLE_DIR: empty } });
    try {
      const res = await api(bare, 'GET', '/console', { token: null });
      assert.equal(res.status, 503);
      assert.equal(res.body.errors[0].code, 'console_unavailable');
      assert.match(res.body.errors[0].message, /npm run build:console/);
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
