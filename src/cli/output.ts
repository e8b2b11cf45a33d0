/** Human tables by default, JSON for scripts: every CLI command prints through these two. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns)}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}

export function printResult(json: boolean, value: Record<string, unknown> | Record<string, unknown>[], columns: string[]): void {
  if (json) printJson(value);
  else printTable(Array.isArray(value) ? value : [value], columns);
}

/** Exit codes, documented in the README: scripts can tell a usage error from a server refusal. */
export const EXIT = { ok: 0, failure: 1, usage: 2, refused: 3, unavailable: 4, timedOut: 5, interrupted: 130 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
