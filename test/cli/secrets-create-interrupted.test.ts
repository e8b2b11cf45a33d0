import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';
import { ROOT } from '../helpers/process.js';

/**
 * Between the CLI and the server: forwards every request, and while `holding` keeps the answer back (the server has
 * committed, the client never hears of it), as a connection lost after the commit.
 */
class AnswerHoldingProxy {
  holding = true;
  /** Bodies of the answers held back: the create that committed. */
  readonly held: { status: number; body: string }[] = [];
  private server!: Server;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.forward(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
    ) as Record<string, string>;
    const upstream = await fetch(`${this.target}${req.url}`, {
      method: req.method!,
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = await upstream.text();
    if (this.holding) {
      this.held.push({ status: upstream.status, body });
      return;
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
  }
}

describe('secrets create --output-secret interrupted after the server committed', () => {
  let app: TestApp;
  let proxy: AnswerHoldingProxy;
  let dir: string;
  before(async () => {
    app = await startTestApp();
    proxy = new AnswerHoldingProxy(app.url);
    await proxy.start();
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-cli-interrupted-'));
  });
  after(async () => {
    await proxy.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the Idempotency-Key and the command that replays the create, which then writes the same secret', async (t) => {
    const file = join(dir, 'new secret.txt');
    const env = { ...process.env, SECURE_MODE_URL: proxy.url, SECURE_MODE_TOKEN: app.token };
    const cli = spawn(
      process.execPath,
      ['bin/secure-mode.js', 'secrets', 'create', '--name', "Jo's web key", '--platforms', 'web', '--output-secret', file],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(cli, 'exit');
    while (proxy.held.length === 0) await sleep(20);
    const committed = proxy.held[0]!;
    assert.equal(committed.status, 201);
    const secret = (JSON.parse(committed.body) as { secret: string }).secret;
    recordSensitive('secret', secret);

    cli.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 130, stderr);
    assert.ok(!stderr.includes(secret) && !stderr.includes(app.token), 'no secret or token on the terminal');
    const key = /Idempotency-Key is ([^\s;,]+)/.exec(stderr)?.[1];
    assert.ok(key, `the key is printed:\n${stderr}`);
    const replay = /replay it with: (secure-mode secrets create .*)$/m.exec(stderr)?.[1];
    assert.ok(replay, `the replay command is printed:\n${stderr}`);
    assert.ok(replay.includes(key));
    assert.ok(!existsSync(file), 'no empty file is left in the way of the replay');
    t.diagnostic(stderr.trim());

    proxy.holding = false;
    const replayed = spawn('sh', ['-c', replay.replace(/^secure-mode /, `"${process.execPath}" bin/secure-mode.js `)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let replayErr = '';
    replayed.stderr.on('data', (d: Buffer) => (replayErr += d.toString()));
    const [replayCode] = (await once(replayed, 'exit')) as [number | null];
    assert.equal(replayCode, 0, replayErr);
    assert.equal(readFileSync(file, 'utf8'), `${secret}\n`, 'the replay wrote the secret the interrupted create made');
    const listed = await api(app, 'GET', '/secure_mode_secrets');
    assert.equal(listed.body.data.filter((s: { name: string }) => s.name === "Jo's web key").length, 1, 'one secret, not two');
  });
});
