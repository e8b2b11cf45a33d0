import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help, type Option } from 'commander';
import { ConfigError } from '../errors.js';
import { DomainError } from '../domain/errors.js';
import { registerAuditCommands } from './audit.js';
import { toCliError } from './http-options.js';
import { registerKeyCommands } from './keys.js';
import { CliError, EXIT } from './output.js';
import { registerPolicyCommands } from './policy.js';
import { registerSecretCommands } from './secrets.js';
import { registerSignCommand } from './sign.js';
import { registerTokenCommands } from './tokens.js';
import { registerWebhookCommands } from './webhooks.js';
import { registerWorkspaceCommands } from './workspaces.js';

// `… | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('secure-mode')
  .description('Intercom-compatible identity verification secrets: server, administration and signing')
  .version(version, '-V, --version', 'print the version')
  // Each sub-command's help lists the options it inherits (--url, --token), and marks the ones it cannot do without.
  .configureHelp({
    showGlobalOptions: true,
    optionDescription(this: Help, option: Option) {
      const description = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `${description} (required)` : description;
    },
  })
  // A usage error is one line like every other CLI error; --help has the rest.
  .configureOutput({
    outputError: (message, write) =>
      write(
        `secure-mode: ${message
          .trim()
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')} (see --help)\n`,
      ),
  })
  .exitOverride();

program
  .command('serve')
  .description('start the HTTP service (same as npm start); configured by environment variables, see the README')
  .action(async () => {
    await import('../server.js');
  });

registerWorkspaceCommands(program);
registerTokenCommands(program);
registerSecretCommands(program);
registerPolicyCommands(program);
registerWebhookCommands(program);
registerAuditCommands(program);
registerKeyCommands(program);
registerSignCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (thrown) {
  const err = toCliError(thrown);
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`secure-mode: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof ConfigError || err instanceof DomainError) {
    process.stderr.write(`secure-mode: ${err.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    process.stderr.write(`secure-mode: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = EXIT.failure;
  }
}
