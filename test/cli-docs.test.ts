import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The long options a `ser` command's help lists (commander's own `--help` aside). */
async function optionsOf(command: string): Promise<string[]> {
  const { stdout } = await run(
    process.execPath,
    [join(ROOT, 'bin/ser.js'), ...command.split(' '), '--help'],
    {
      cwd: ROOT,
    },
  );
  return [...stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)]
    .map((match) => match[1]!)
    .filter((option) => option !== '--help');
}

describe('the README and the CLI', () => {
  it.each([
    'predict',
    'upload',
    'backfill-speakers',
    'admin speaker-records',
    'admin erase-speaker',
    'admin train',
    'admin job',
  ])('names every option of ser %s', async (command) => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const options = await optionsOf(command);
    expect(options.length).toBeGreaterThan(3);
    expect(options.filter((option) => !new RegExp(`${option}(?![\\w-])`).test(readme))).toEqual([]);
  });
});
