import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('./', import.meta.url));
export const defaultConsoleOut = fileURLToPath(new URL('../../dist/console/', import.meta.url));
const STATIC_FILES = ['index.html', 'console.css', 'icon.svg'];

/**
 * Bundles the console's TypeScript into one ES module and copies the static files beside it.
 * Tests build into their own folder, so parallel test files never read a half-written bundle.
 */
export async function buildConsole(outDir: string = defaultConsoleOut): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'ui', 'main.ts')],
    outfile: join(outDir, 'console.js'),
    tsconfig: join(here, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await Promise.all(STATIC_FILES.map((file) => copyFile(join(here, 'static', file), join(outDir, file))));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  buildConsole(process.argv[2]).then(
    () => process.stdout.write(`console built in ${Date.now() - started} ms\n`),
    (err: unknown) => {
      process.stderr.write(`console build failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
