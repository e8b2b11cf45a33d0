import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { ClientAddresses } from '../../src/http/client-address.js';

describe('ClientAddresses', () => {
  it('is the socket address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const none = new ClientAddresses([]);
    assert.equal(none.of('127.0.0.9', '203.0.113.1'), '127.0.0.9');
    assert.equal(none.of('::ffff:127.0.0.9', undefined), '127.0.0.9', 'an IPv4-mapped address is the IPv4 client');
    assert.equal(none.of(undefined, undefined), '');
  });

  it('reads X-Forwarded-For from the right through trusted addresses and CIDRs, IPv4 and IPv6', () => {
    const proxies = new ClientAddresses(['10.0.0.1', '10.1.0.0/16', 'fd00::/8']);
    assert.equal(proxies.of('10.0.0.1', '203.0.113.1'), '203.0.113.1');
    assert.equal(proxies.of('::ffff:10.0.0.1', '203.0.113.1'), '203.0.113.1');
    assert.equal(
      proxies.of('10.0.0.1', 'spoofed, 198.51.100.1, 203.0.113.1'),
      '203.0.113.1',
      'entries left of the client are its own',
    );
    assert.equal(proxies.of('10.0.0.1', '203.0.113.1, 10.1.2.3'), '203.0.113.1', 'trusted hops are skipped');
    assert.equal(proxies.of('fd00::5', '2001:db8::1'), '2001:db8::1');
    assert.equal(proxies.of('10.0.0.1', ['203.0.113.7', '10.1.0.9']), '203.0.113.7', 'repeated headers read as one list');
    assert.equal(proxies.of('10.0.0.1', '10.1.0.4, 10.1.0.5'), '10.1.0.4', 'all trusted: the leftmost hop');
    assert.equal(proxies.of('10.0.0.1', 'not-an-address, 10.1.0.5'), '10.1.0.5', 'garbage: the last good hop');
    assert.equal(proxies.of('10.0.0.2', '203.0.113.1'), '10.0.0.2', 'an untrusted peer');
    assert.equal(proxies.of('10.0.0.1', undefined), '10.0.0.1');
  });

  it('SECURE_MODE_TRUSTED_PROXIES takes addresses and CIDRs and refuses anything else', () => {
    assert.deepEqual(loadConfig({ SECURE_MODE_TRUSTED_PROXIES: ' 10.0.0.1, 10.1.0.0/16 ,fd00::/8' }).trustedProxies, [
      '10.0.0.1',
      '10.1.0.0/16',
      'fd00::/8',
    ]);
    assert.deepEqual(loadConfig({}).trustedProxies, []);
    for (const bad of ['10.0.0.300', 'proxy.local', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/1', '10.0.0.0/x']) {
      assert.throws(() => loadConfig({ SECURE_MODE_TRUSTED_PROXIES: bad }), ConfigError, bad);
    }
  });

  it('the verification limits and the JWT maximum age are read with their defaults', () => {
    const defaults = loadConfig({});
    assert.deepEqual(
      [defaults.verifyClientRateLimit, defaults.diagnoseRateLimit, defaults.jwtMaxAgeSeconds],
      [2000, 20, undefined],
    );
    const set = loadConfig({
      SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '50',
      SECURE_MODE_DIAGNOSE_RATE_LIMIT: '5',
      SECURE_MODE_JWT_MAX_AGE: '600',
    });
    assert.deepEqual([set.verifyClientRateLimit, set.diagnoseRateLimit, set.jwtMaxAgeSeconds], [50, 5, 600]);
    assert.throws(() => loadConfig({ SECURE_MODE_JWT_MAX_AGE: '0' }), ConfigError);
  });
});
