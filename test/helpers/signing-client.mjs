// A simulated customer backend for the rotation loop test: for each line on standard input (a user id) it reads the
// secret from its file afresh, as a deployment reading a mounted Secret would, signs user_hash with it and asks
// secure-mode to verify; it prints only the HTTP status, never the secret or the hash.
// Usage: node signing-client.mjs URL APP_ID SECRET_FILE
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [url, appId, secretFile] = process.argv.slice(2);
for await (const userId of createInterface({ input: process.stdin })) {
  const secret = readFileSync(secretFile, 'utf8');
  const userHash = createHmac('sha256', Buffer.from(secret, 'utf8')).update(userId).digest('hex');
  const res = await fetch(`${url}/identity_verification/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: appId, platform: 'web', user_id: userId, user_hash: userHash }),
  });
  await res.arrayBuffer();
  process.stdout.write(`${res.status}\n`);
}
