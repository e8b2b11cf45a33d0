import { createInterface } from 'node:readline/promises';
import { CliError, EXIT } from './output.js';

/** Asks on the terminal, only there (a script is not asked); anything but yes leaves everything as it was. */
export async function confirmOnTerminal(question: string, yes: boolean | undefined): Promise<void> {
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) return;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(question);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not deleted', EXIT.refused);
  } finally {
    prompt.close();
  }
}
