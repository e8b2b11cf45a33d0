import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ERROR_CATALOGUE, type ErrorCode } from '../../src/domain/errors.js';
import { ERROR_STATUS, bodyNotJson, statusOf } from '../../src/http/error-status.js';
import { type TestApp, api, startTestApp } from '../helpers/app.js';

/**
 * One catalogue, three readers: the code → status map, the README's error table and the error responses of the
 * served /openapi.json must agree (as fastify's test/internals/errors.test.js holds its docs to its errors).
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Codes answered before or outside any documented operation: by Node's parser, the router or the console. */
const OUTSIDE_OPERATIONS: ErrorCode[] = [
  'uri_too_long',
  'request_header_fields_too_large',
  'request_timeout',
  'bad_request',
  'server_error',
  'console_unavailable',
  'not_found',
];

function readmeTable(): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  const start = README.indexOf('| code | status | when |');
  assert.ok(start >= 0, 'README has an error table');
  for (const line of README.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [, code, status] = line.split('|').map((cell) => cell.trim());
    rows.set(
      code!.replace(/`/g, ''),
      [...status!.matchAll(/\b\d{3}\b/g)].map((m) => Number(m[0])),
    );
  }
  return rows;
}

describe('error catalogue parity', () => {
  let app: TestApp;
  let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  before(async () => {
    app = await startTestApp();
    doc = (await api(app, 'GET', '/openapi.json', { token: null })).body;
  });
  after(() => app.close());

  it('the README table lists every catalogue code with its status, and nothing else', () => {
    const table = readmeTable();
    assert.deepEqual([...table.keys()].sort(), Object.keys(ERROR_CATALOGUE).sort());
    for (const [code, statuses] of table) assert.equal(statuses[0], ERROR_STATUS[code as ErrorCode], code);
    assert.deepEqual(table.get('parameter_invalid'), [422, statusOf(bodyNotJson())]);
  });

  it('every error status /openapi.json documents is a catalogue status, and every operation code is documented', () => {
    const documented = new Set<number>();
    for (const operations of Object.values(doc.paths)) {
      for (const operation of Object.values(operations)) {
        for (const status of Object.keys(operation.responses).map(Number)) if (status >= 400) documented.add(status);
      }
    }
    const catalogued = new Set([...Object.values(ERROR_STATUS), statusOf(bodyNotJson())]);
    for (const status of documented)
      assert.ok(catalogued.has(status), `/openapi.json documents ${status}, which no catalogue code has`);
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      if (OUTSIDE_OPERATIONS.includes(code)) continue;
      assert.ok(documented.has(ERROR_STATUS[code]), `${code} (${ERROR_STATUS[code]}) is not in any /openapi.json operation`);
    }
  });
});
