import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDropTarget } from '../bin/upload/transports.ts';
import { formatRows, type UploadRow } from '../bin/upload/upload-command.ts';
import { badFixture, tessClip, tessFixtures } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

const run = promisify(execFile);

/** The rows of `ser upload`'s JSON-lines output. */
const jsonLines = (text: string): UploadRow[] =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

/** `npx ser upload …` as a user runs it: a separate process; the exit code comes back, not thrown. */
async function ser(args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'bin/ser.ts', 'upload', ...args], {
      maxBuffer: 1 << 24,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ser upload CSV', () => {
  it('quotes every cell that needs it (RFC 4180, CRLF) and keeps spreadsheet formulas as text', () => {
    const row = (file: string): UploadRow => ({
      file,
      id: 'x',
      status: 'SUCCEEDED',
      emotion: 'sad',
      confidence: 0.9,
    });
    const csv = formatRows(
      [
        '=HYPERLINK("evil.example","click").flac',
        '+1.flac',
        '-2.flac',
        '@SUM(1).flac',
        'a,b.flac',
        'cr\rret.flac',
      ].map(row),
      'csv',
    );
    expect(csv.split('\r\n').slice(1, -1)).toEqual([
      `"'=HYPERLINK(""evil.example"",""click"").flac",x,SUCCEEDED,sad,0.9,,,,,`,
      "'+1.flac,x,SUCCEEDED,sad,0.9,,,,,",
      "'-2.flac,x,SUCCEEDED,sad,0.9,,,,,",
      "'@SUM(1).flac,x,SUCCEEDED,sad,0.9,,,,,",
      '"a,b.flac",x,SUCCEEDED,sad,0.9,,,,,',
      '"cr\rret.flac",x,SUCCEEDED,sad,0.9,,,,,',
    ]);
  });

  it('carries lowConfidence and durationSec; JSON lines also the probabilities, segments and speaker context', () => {
    const row: UploadRow = {
      file: 'a.flac',
      id: 'x',
      status: 'SUCCEEDED',
      emotion: 'sad',
      confidence: 0.45,
      lowConfidence: true,
      probabilities: { sad: 0.45, neutral: 0.55 },
      durationSec: 2.5,
      segments: [
        { startSec: 0, endSec: 2.5, emotion: 'sad', confidence: 0.45, probabilities: { sad: 0.45 } },
      ],
      modelVersion: '1.6.0',
      speakerId: 'agent-7',
      adaptation: { clips: 3 },
    };
    const [header, line] = formatRows([row], 'csv').split('\r\n');
    expect(header).toBe(
      'file,id,status,emotion,confidence,modelVersion,errorCode,errorMessage,lowConfidence,durationSec',
    );
    expect(line).toBe('a.flac,x,SUCCEEDED,sad,0.45,1.6.0,,,true,2.5');
    expect(JSON.parse(formatRows([row], 'jsonl'))).toEqual(row);
  });
});

// A cap, not a speed claim: 50 uploads in a child process on a shared, loaded machine.
describe('ser upload --drop targets', () => {
  it('takes the incoming folder with or without its trailing slash, and nothing outside it', () => {
    expect(parseDropTarget('s3://ser-audio/incoming')).toEqual({ bucket: 'ser-audio', prefix: 'incoming/' });
    expect(parseDropTarget('s3://b/incoming/batch-7')).toEqual({ bucket: 'b', prefix: 'incoming/batch-7/' });
    for (const bad of ['s3://b/incomingX', 's3://b/uploads/', 'https://b/incoming/'])
      expect(() => parseDropTarget(bad), bad).toThrow(/--drop must be/);
  });
});

describe('ser upload against the local stack', () => {
  let test: TestStack;
  let folder: string;
  const labels = new Map<string, string>();

  beforeAll(async () => {
    test = await startTestStack({ bucket: 'ser-upload', apiKey: 'upload-key' });
    // 49 TESS clips (the fixtures, copied under new names in two sub-folders) and one corrupt file.
    folder = await mkdtemp(join(tmpdir(), 'ser-upload-'));
    const clips = tessFixtures();
    for (let i = 0; i < 49; i++) {
      const clip = clips[i % clips.length]!;
      const path = join(folder, `batch-${i % 2}`, `${String(i).padStart(2, '0')}-${clip.fileName}`);
      await mkdir(join(folder, `batch-${i % 2}`), { recursive: true });
      await copyFile(clip.path, path);
      labels.set(path, clip.tessLabel);
    }
    const bad = badFixture('header-only.wav');
    await writeFile(join(folder, 'batch-0', 'broken.wav'), bad.bytes);
  }, 120_000);

  afterAll(async () => {
    await test?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('uploads 50 files through the API, writes one JSON line each, and exits 1 for the one that failed', async () => {
    const out = join(folder, 'results.jsonl');

    const { code, stderr } = await ser([
      folder,
      '--api',
      test.stack.apiUrl,
      '--key',
      'upload-key',
      '--out',
      out,
    ]);

    const rows = jsonLines(await readFile(out, 'utf8'));
    expect(code).toBe(1);
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((r) => r.id)).size).toBe(50);
    const broken = rows.find((r) => r.file.endsWith('broken.wav'));
    expect(broken).toMatchObject({
      status: 'FAILED',
      error: { code: badFixture('header-only.wav').expectError },
    });
    const succeeded = rows.filter((r) => r.status === 'SUCCEEDED');
    expect(succeeded).toHaveLength(49);
    for (const row of succeeded) {
      expect(row.emotion).toEqual(expect.any(String));
      expect(row).toMatchObject({
        lowConfidence: expect.any(Boolean),
        durationSec: expect.any(Number),
        probabilities: expect.any(Object),
        segments: expect.any(Array),
      });
    }
    // Every row is the API's own record of that upload.
    const record = await fetch(`${test.stack.apiUrl}/predictions/${succeeded[0]!.id}`, {
      headers: { 'x-api-key': 'upload-key' },
    });
    const { emotion, confidence, lowConfidence, probabilities, durationSec, segments } = succeeded[0]!;
    expect(await record.json()).toMatchObject({
      status: 'SUCCEEDED',
      ...{ emotion, confidence, lowConfidence, probabilities, durationSec, segments },
    });
    expect(stderr).toContain('50 files: 49 succeeded, 1 did not');
  }, 300_000);

  it('goes through the drop folder with --drop, writes CSV, and exits 0 when all succeeded', async () => {
    const out = join(folder, 'results.csv');
    const good = join(folder, 'batch-1');

    const { code } = await ser([
      good,
      '--drop',
      `s3://${test.stack.bucket}/incoming/cli-run/`,
      '--s3-endpoint',
      test.stack.s3Endpoint,
      '--out',
      out,
    ]);

    const [header, ...lines] = (await readFile(out, 'utf8')).trim().split('\r\n');
    expect(lines.filter((line) => line.split(',')[2] !== 'SUCCEEDED')).toEqual([]);
    expect(code).toBe(0);
    expect(header).toBe(
      'file,id,status,emotion,confidence,modelVersion,errorCode,errorMessage,lowConfidence,durationSec',
    );
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line.split(',')[2]).toBe('SUCCEEDED');
  }, 300_000);

  it('--drop waits for the result of the bytes it sent, and refuses two files bound for one key', async () => {
    // The same name, new content: the result of the earlier run is already there and must not be taken.
    const again = await mkdtemp(join(tmpdir(), 'ser-again-'));
    const drop = [
      '--drop',
      `s3://${test.stack.bucket}/incoming/again/`,
      '--s3-endpoint',
      test.stack.s3Endpoint,
    ];
    const runWith = async (clip: 'sad' | 'angry') => {
      await writeFile(join(again, 'x.flac'), tessClip(clip).bytes);
      const { stdout, code } = await ser([join(again, 'x.flac'), ...drop]);
      expect(code).toBe(0);
      return JSON.parse(stdout.trim()) as { emotion: string };
    };
    expect((await runWith('sad')).emotion).toBe('sad');
    expect((await runWith('angry')).emotion).toBe('angry');

    await mkdir(join(again, 'a'));
    await mkdir(join(again, 'b'));
    await writeFile(join(again, 'a', 'clip.flac'), tessClip('sad').bytes);
    await writeFile(join(again, 'b', 'clip.flac'), tessClip('angry').bytes);
    // A path that cannot be read is its own row, as in `ser predict`; the others still go.
    const missing = await ser([join(again, 'nope.flac'), join(again, 'x.flac'), ...drop]);
    expect(missing.code).toBe(1);
    const rows = jsonLines(missing.stdout);
    expect(rows).toEqual([
      expect.objectContaining({
        status: 'ERROR',
        error: expect.objectContaining({ code: 'UNREADABLE_FILE' }),
      }),
      expect.objectContaining({ status: 'SUCCEEDED', emotion: 'angry' }),
    ]);

    const clash = await ser([join(again, 'a'), join(again, 'b'), ...drop]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/would both be uploaded as clip\.flac/);
    await rm(again, { recursive: true, force: true });
  }, 300_000);

  it('says in one line what is wrong on the command line, with no stack trace', async () => {
    const noKey = await ser([folder, '--api', test.stack.apiUrl]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr.trim()).toBe('ser: ser upload needs --api and --key (or --drop)');

    const badRetries = await ser([folder, '--api', test.stack.apiUrl, '--key', 'k', '--retries', 'abc']);
    expect(badRetries.code).toBe(2); // a usage error, as the missing key: 1 means a file failed
    expect(badRetries.stderr).toMatch(/'--retries <n>' argument 'abc' is invalid/);

    const badSpeaker = await ser([folder, '--api', test.stack.apiUrl, '--key', 'k', '--speaker', 'a/b']);
    expect(badSpeaker.code).toBe(2);
    expect(badSpeaker.stderr.trim()).toMatch(/^ser: --speaker "a\/b" is not a valid speakerId: .*"\/"/);

    const dots = await ser([folder, '--api', test.stack.apiUrl, '--key', 'k', '--speaker', '..']);
    expect(dots.code).toBe(2);
    expect(dots.stderr.trim()).toMatch(
      /^ser: --speaker "\.\." is not a valid speakerId: .*not "\." or "\.\."$/,
    );

    const dropSpeaker = await ser([folder, '--drop', 's3://b/incoming/', '--speaker', 'agent-7']);
    expect(dropSpeaker.code).toBe(2);
    expect(dropSpeaker.stderr).toMatch(
      /^ser: --speaker goes with --api only: .*DROP_FOLDER_SPEAKER_PREFIXES/,
    );
  }, 60_000);

  it('an --out it cannot write is a usage error before any upload, not a batch whose results are lost', async () => {
    const listed = async () => {
      const answer = await fetch(`${test.stack.apiUrl}/predictions?limit=100`, {
        headers: { 'x-api-key': 'upload-key' },
      });
      return ((await answer.json()) as { items: unknown[] }).items.length;
    };
    const before = await listed();
    const out = join(folder, 'no-such-folder', 'results.csv');
    const result = await ser([
      join(folder, 'batch-1'),
      '--api',
      test.stack.apiUrl,
      '--key',
      'upload-key',
      '--out',
      out,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^ser: cannot write --out .*no-such-folder\/results\.csv: ENOENT/);
    expect(await listed()).toBe(before);
  }, 60_000);

  it('an interrupted run leaves the previous --out as it was; a finished run replaces it whole', async () => {
    // Arrange: an earlier run's results, and an API that accepts connections and never answers
    const out = join(folder, 'earlier.jsonl');
    await writeFile(out, '{"earlier":"results"}\n');
    const silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;

    // Act: Ctrl-C while the upload waits
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bin/ser.ts',
        'upload',
        tessClip('sad').path,
        '--api',
        `http://127.0.0.1:${port}`,
        '--out',
        out,
      ],
      { env: { ...process.env, SER_API_KEY: 'upload-key' }, stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 4000));
    child.kill('SIGINT');
    await once(child, 'exit');
    silent.close();

    // Assess: untouched; then a run that ends writes its own results in its place
    expect(await readFile(out, 'utf8')).toBe('{"earlier":"results"}\n');
    const finished = await ser([
      tessClip('sad').path,
      '--api',
      test.stack.apiUrl,
      '--key',
      'upload-key',
      '--out',
      out,
    ]);
    expect(finished.code).toBe(0);
    expect(jsonLines(await readFile(out, 'utf8'))).toEqual([
      expect.objectContaining({ status: 'SUCCEEDED' }),
    ]);
  }, 120_000);

  it('reads --api and --key from SER_API_URL and SER_API_KEY, and never prints the key in --help', async () => {
    const env = { ...process.env, SER_API_URL: test.stack.apiUrl, SER_API_KEY: 'upload-key' };
    const help = await ser(['--help'], env);
    expect(help.stdout).toContain('SER_API_KEY');
    expect(help.stdout).not.toContain('upload-key');
    const sent = await ser([tessClip('sad').path], env);
    expect(sent.code).toBe(0);
    expect(jsonLines(sent.stdout)[0]).toMatchObject({ status: 'SUCCEEDED' });
  }, 120_000);

  it("sends --speaker as every upload's speakerId and reports it on each row", async () => {
    const clips = [tessClip('sad').path, tessClip('angry').path];

    const { code, stdout } = await ser([
      ...clips,
      '--api',
      test.stack.apiUrl,
      '--key',
      'upload-key',
      '--speaker',
      'agent-7',
    ]);

    const rows = jsonLines(stdout);
    expect(code).toBe(0);
    expect(rows.map((r) => [r.file, r.status, r.speakerId])).toEqual(
      clips.map((clip) => [clip, 'SUCCEEDED', 'agent-7']),
    );
    const record = await fetch(`${test.stack.apiUrl}/predictions/${rows[0]!.id}`, {
      headers: { 'x-api-key': 'upload-key' },
    });
    expect(await record.json()).toMatchObject({ speakerId: 'agent-7' });
  }, 120_000);

  it('reports a refused request per file instead of retrying it (wrong key → FORBIDDEN)', async () => {
    const one = join(folder, 'batch-1');

    const { code, stdout } = await ser([
      one,
      '--api',
      test.stack.apiUrl,
      '--key',
      'wrong-key',
      '--concurrency',
      '2',
    ]);

    const rows = jsonLines(stdout);
    expect(code).toBe(1);
    expect(rows).toHaveLength(24);
    for (const row of rows) expect(row).toMatchObject({ status: 'ERROR', error: { code: 'FORBIDDEN' } });
  }, 300_000);
});
