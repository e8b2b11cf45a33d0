/**
 * A latency probe in its own process: `loops` keep-alive clients each sending one request at a time for `seconds`,
 * timing every answer with µs resolution (autocannon's histogram rounds to whole milliseconds). Prints
 * {"p50":ms,"p99":ms,"count":n,"non2xx":n} on stdout.
 */
import { Agent, request } from 'node:http';

const [url = '', body = '', secondsArg = '2', loopsArg = '4'] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true });
const until = performance.now() + Number(secondsArg) * 1000;
const samples: number[] = [];
let non2xx = 0;

function once(): Promise<void> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) non2xx++;
          samples.push(performance.now() - started);
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function loop(): Promise<void> {
  while (performance.now() < until) await once();
}

await Promise.all(Array.from({ length: Number(loopsArg) }, loop));
agent.destroy();
samples.sort((a, b) => a - b);
const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
process.stdout.write(JSON.stringify({ p50: at(0.5), p99: at(0.99), count: samples.length, non2xx }));
