import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/**
 * `ser admin …` as a separate process, with the admin key (no AWS settings needed): the exit code comes
 * back, not thrown. Its own file: the in-process stack reads its configuration once per test file.
 */
async function serAdmin(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'SER_ADMIN_KEY'));
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/ser.js', 'admin', ...args], {
      cwd: ROOT,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ser admin erase-speaker against a local stack without drop-folder speaker prefixes', () => {
  let local: TestStack;

  beforeAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    local = await startTestStack({ bucket: 'ser-admin-noprefix', apiKey: 'admin-noprefix-key' });
  }, 120_000);

  afterAll(async () => {
    await local?.close();
  });

  it('prints the totals as ever (exit 0) and says on stderr that no prefix is configured', async () => {
    const args = ['--api', local.stack.apiUrl, '--admin-key', `${local.stack.apiKey}-admin`];
    const result = await serAdmin(['erase-speaker', 'agent-7', ...args]);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      speakerId: 'agent-7',
      erased: false,
      recordsDeleted: 0,
      more: false,
      calls: 1,
    });
    expect(result.stderr).toMatch(
      /^ser admin erase-speaker: the deployment has no drop-folder speaker prefix \(DROP_FOLDER_SPEAKER_PREFIXES.*nothing was looked for or erased\n$/,
    );
  });
});
