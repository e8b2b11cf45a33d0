import type { Command } from 'commander';
import { WEBHOOK_EVENT_TYPES } from '../domain/audit-actions.js';
import type { WebhookDeliveryBody, WebhookEndpointBody, WebhookEndpointWithSecretBody } from './api-client.js';
import { confirmOnTerminal } from './confirm.js';
import { isTransient } from './create-replay.js';
import { type HttpOptions, addHttpOptions, clientFrom, toCliError } from './http-options.js';
import { CliError, EXIT, printJson, printTable } from './output.js';
import { SecretFile } from './secret-file.js';
import { deliverSecret, isoTime } from './secret-view.js';

type Opts = HttpOptions & Record<string, unknown>;

export const WEBHOOK_COLUMNS = ['id', 'url', 'events', 'description', 'created'];
export const DELIVERY_COLUMNS = ['event_id', 'type', 'attempted', 'result', 'duration', 'state'];

export function webhookRow(w: WebhookEndpointBody): Record<string, unknown> {
  return { id: w.id, url: w.url, events: w.events.join(','), description: w.description, created: isoTime(w.created_at) };
}

export function deliveryRow(d: WebhookDeliveryBody): Record<string, unknown> {
  return {
    event_id: d.event_id,
    type: d.event_type,
    attempted: isoTime(d.attempted_at),
    result: d.status === null ? (d.error ?? 'no answer') : `HTTP ${d.status}`,
    duration: `${d.duration_ms}ms`,
    state: d.state,
  };
}

/** "a,b" → ["a", "b"]; "*" stays ["*"], all events. Which names exist is the server's to say. */
export function parseEvents(text: string): string[] {
  const events = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (events.length === 0) throw new CliError(`--events must list event types or be "*" (got "${text}")`, EXIT.usage);
  return events;
}

/** The route takes no Idempotency-Key: an endpoint whose answer was lost cannot be fetched again, only replaced. */
const LOST =
  'the server may have created the endpoint, and nobody has seen its signing secret: ' +
  'look for it with secure-mode webhooks list, delete it, and create it again';

/**
 * The create, with the reserved file removed again when it fails or is interrupted (SIGINT, SIGTERM) before its
 * answer; once the answer is here the secret is written before a signal may end the process.
 */
async function createOnce(
  send: () => Promise<WebhookEndpointWithSecretBody>,
  file: SecretFile | undefined,
): Promise<WebhookEndpointWithSecretBody> {
  const onSignal = () =>
    void (file?.abandon() ?? Promise.resolve()).finally(() => {
      process.stderr.write(`secure-mode: interrupted: ${LOST}\n`);
      process.exit(EXIT.interrupted);
    });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await send();
  } catch (err) {
    await file?.abandon();
    if (isTransient(err)) throw new CliError(`${(toCliError(err) as Error).message}; ${LOST}`, EXIT.unavailable);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `webhooks …`: where the workspace's events are delivered, as Standard Webhooks (secure-mode only). */
export function registerWebhookCommands(program: Command): void {
  const webhooks = addHttpOptions(
    program
      .command('webhooks')
      .description('webhook endpoints that receive signed events (Standard Webhooks; secure-mode only, see docs/events.md)'),
  );

  webhooks
    .command('list')
    .description('list webhook endpoints (never their signing secrets)')
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const list = await clientFrom(opts).listWebhooks();
      if (opts.json) printJson(list);
      else printTable(list.map(webhookRow), WEBHOOK_COLUMNS);
    });

  webhooks
    .command('get')
    .description('one webhook endpoint (never its signing secret)')
    .argument('<id>', 'webhook endpoint id')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const w = await clientFrom(opts).getWebhook(id);
      if (opts.json) printJson(w);
      else printTable([webhookRow(w)], WEBHOOK_COLUMNS);
    });

  webhooks
    .command('create')
    .description('subscribe an endpoint to events; its whsec_ signing secret is shown once (or written to a new 0600 file)')
    // Positional, since --url is already the API's base URL on every command.
    .argument('<endpoint_url>', 'where events are POSTed: https to a public address')
    .option('--events <list>', `comma-separated event types, or "*" for all: ${WEBHOOK_EVENT_TYPES.join(', ')}`, '*')
    .option('--description <text>', 'what the endpoint is for (at most 255 characters)')
    .option('--output-secret <file>', 'write the signing secret to this new file (mode 0600) instead of printing it')
    .option('--json', 'print JSON')
    .action(async (endpointUrl: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { events: string; description?: string; outputSecret?: string }>();
      const client = clientFrom(opts);
      const params = {
        url: endpointUrl,
        events: parseEvents(opts.events),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      };
      const file = opts.outputSecret === undefined ? undefined : await SecretFile.reserve(opts.outputSecret);
      const created = await createOnce(() => client.createWebhook(params), file);
      await deliverSecret({ id: `webhook endpoint ${created.id}`, secret: created.secret }, file, opts.json === true);
      if (opts.json) printJson(file ? { ...created, secret: undefined } : created);
      else printTable([webhookRow(created)], WEBHOOK_COLUMNS);
    });

  webhooks
    .command('delete')
    .description('delete a webhook endpoint: its pending deliveries are dropped')
    .argument('<id>', 'webhook endpoint id')
    .option('-y, --yes', 'do not ask for confirmation (asked only on a terminal)')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { yes?: boolean }>();
      const client = clientFrom(opts);
      await confirmOnTerminal(`delete webhook endpoint ${id}? Its pending deliveries are dropped. [y/N] `, opts.yes);
      await client.deleteWebhook(id);
      if (opts.json) printJson({ id, deleted: true });
      else process.stdout.write(`deleted ${id}\n`);
    });

  webhooks
    .command('deliveries')
    .description("an endpoint's latest 100 delivery attempts, newest first (never a body)")
    .argument('<id>', 'webhook endpoint id')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const attempts = await clientFrom(opts).webhookDeliveries(id);
      if (opts.json) printJson(attempts);
      else printTable(attempts.map(deliveryRow), DELIVERY_COLUMNS);
    });
}
