import type { Command } from 'commander';
import { parseDuration, userHash, userJwt } from 'secure-mode-sign';
import { CliError, EXIT, printJson } from './output.js';

interface SignOptions {
  secret?: string;
  userId?: string;
  email?: string;
  jwt?: boolean;
  expiresIn?: string;
  json?: boolean;
}

export function registerSignCommand(program: Command): void {
  program
    .command('sign')
    .description('compute a user_hash (or, with --jwt, an HS256 intercom_user_jwt) the way a customer backend would')
    .option(
      '--secret <secret>',
      'the identity verification secret (default: $SECURE_MODE_SIGN_SECRET, which keeps it out of shell history)',
    )
    .option('--user-id <id>', 'the user_id; when given, user_hash is computed over it')
    .option('--email <email>', 'the email; user_hash is computed over it when there is no user_id (with --jwt: an email claim)')
    .option('--jwt', 'print an HS256 JWT for intercom_user_jwt instead of a user_hash')
    .option('--expires-in <duration>', 'with --jwt: lifetime such as 90s, 30m, 1h or 7d (sets exp)')
    .option('--json', 'print JSON')
    .action((opts: SignOptions) => {
      const secret = opts.secret ?? process.env.SECURE_MODE_SIGN_SECRET;
      if (!secret) throw new CliError('give --secret or set SECURE_MODE_SIGN_SECRET', EXIT.usage);
      if (opts.userId === undefined && opts.email === undefined) throw new CliError('give --user-id or --email', EXIT.usage);
      try {
        if (opts.jwt) {
          if (opts.userId === undefined)
            throw new CliError('--jwt needs --user-id: a user JWT must carry a user_id claim', EXIT.usage);
          const expiresIn = opts.expiresIn === undefined ? undefined : parseDuration(opts.expiresIn);
          const token = userJwt(
            secret,
            { user_id: opts.userId, ...(opts.email !== undefined ? { email: opts.email } : {}) },
            { expiresIn },
          );
          if (opts.json) printJson({ intercom_user_jwt: token });
          else process.stdout.write(`${token}\n`);
          return;
        }
        if (opts.expiresIn !== undefined) throw new CliError('--expires-in applies only with --jwt', EXIT.usage);
        const hash = userHash(secret, { user_id: opts.userId, email: opts.email });
        if (opts.json) printJson({ user_hash: hash });
        else process.stdout.write(`${hash}\n`);
      } catch (err) {
        if (err instanceof TypeError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
    });
}
