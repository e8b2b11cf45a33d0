import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AccessLog, createLogger } from '../src/logger.js';
import { LogCapture } from './helpers/app.js';

function lines(capture: LogCapture) {
  return capture.text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('AccessLog', () => {
  it('writes the count of successful requests on the summarised route every interval, and nothing when there were none', async () => {
    const capture = new LogCapture();
    const log = new AccessLog(createLogger('info', capture), { summarisedRoute: '/v', summaryIntervalMs: 40 });
    try {
      log.write('r1', 'POST', '/v', 200, 1);
      log.write('r2', 'POST', '/v', 200, 1);
      log.write('r3', 'POST', '/v', 401, 1);
      log.write('r4', 'GET', '/other', 200, 1);
      assert.deepEqual(
        lines(capture).map((l) => [l.reqId, l.status]),
        [
          ['r3', 401],
          ['r4', 200],
        ],
      );
      await sleep(60);
      const summaries = () => lines(capture).filter((l) => l.msg === 'requests summarised');
      assert.deepEqual(
        summaries().map((l) => [l.route, l.status, l.count]),
        [['/v', 200, 2]],
      );
      await sleep(100);
      assert.equal(summaries().length, 1, 'an interval without successes writes no summary');
      log.write('r5', 'POST', '/v', 200, 1);
    } finally {
      log.close();
    }
    assert.deepEqual(
      lines(capture)
        .filter((l) => l.msg === 'requests summarised')
        .map((l) => l.count),
      [2, 1],
      'close writes what was counted since the last summary',
    );
  });
});
