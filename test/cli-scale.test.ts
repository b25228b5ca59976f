import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESS_DIR } from './helpers/fixtures.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIP = join(ROOT, 'test/fixtures/tess/OAF_back_neutral.flac');
const EMPTY = join(ROOT, 'test/fixtures/bad/empty.wav');

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

const ser = (args: string[], input?: string): Promise<Run> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bin/ser.js'), ...args],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
        resolve({
          stdout,
          stderr,
          code: failure ? (failure.code ?? null) : 0,
          signal: failure?.signal ?? null,
        });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });

const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { file: string; emotion?: string; error?: { code: string } });

describe('ser predict at scale', () => {
  let dir: string;
  let longPaths: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ser-cli-scale-'));
    // 3000 paths of 80+ characters (≈ 300 KB of arguments, 10× what crashed onnxruntime-node): mostly an
    // empty WAV (an instant EMPTY_AUDIO, so the test stays short) and every 500th a real clip.
    const folder = join(dir, 'a-rather-long-folder-name-for-many-uploaded-files-x'.padEnd(60, 'x'));
    await mkdir(folder);
    longPaths = [];
    for (let i = 0; i < 3000; i++) {
      const path = join(folder, `clip-${String(i).padStart(5, '0')}${i % 500 === 0 ? '.flac' : '.wav'}`);
      await symlink(i % 500 === 0 ? CLIP : EMPTY, path);
      longPaths.push(path);
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes 3000 long paths on the command line, in input order, without crashing', async () => {
    expect(longPaths.every((p) => p.length >= 80)).toBe(true);
    const run = await ser(['predict', '--json', '--jobs', '2', ...longPaths]);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1); // the empty files fail, each on its own line
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(3000);
    lines.forEach((line, i) => {
      expect(
        line.file.endsWith(`clip-${String(i).padStart(5, '0')}${i % 500 === 0 ? '.flac' : '.wav'}`),
      ).toBe(true);
      if (i % 500 === 0) expect(line.emotion).toBeDefined();
      else expect(line.error?.code).toBe('EMPTY_AUDIO');
    });
  });

  it('hands a long command line over intact: a path with a newline, and a speaker context (no --jobs)', async () => {
    const odd = join(dir, 'line\nbreak.flac');
    await copyFile(CLIP, odd);

    const run = await ser(['predict', '--json', '--speaker', 'agent-7', odd, ...longPaths.slice(1, 200)]);

    expect(run.stderr).not.toMatch(/cannot be used with/);
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(200);
    expect(lines[0]).toMatchObject({ file: expect.stringMatching(/line\nbreak\.flac$/), emotion: 'neutral' });
  });

  it('reads paths from --files-from (a file or stdin) and keeps their order', async () => {
    const some = [longPaths[0]!, longPaths[1]!, longPaths[500]!];
    const list = join(dir, 'list.txt');
    await writeFile(list, `${some.join('\n')}\n`);
    const fromFile = jsonLines((await ser(['predict', '--json', '--files-from', list])).stdout);
    const fromStdin = jsonLines(
      (await ser(['predict', '--json', '--files-from', '-'], some.join('\n'))).stdout,
    );
    for (const lines of [fromFile, fromStdin]) {
      expect(lines.map((l) => l.file.slice(-15))).toEqual(some.map((p) => p.slice(-15)));
      expect(lines.map((l) => l.emotion !== undefined)).toEqual([true, false, true]);
    }
  });

  it('gives the same results in the same order with --jobs 1 and --jobs 2, every format', async () => {
    // Every decoder runs in the workers (generated/ and tess-formats/), bad input fails alike in both.
    const folders = ['tess', 'tess-formats', 'generated', 'bad'].map((f) => `test/fixtures/${f}`);
    const one = await ser(['predict', '--json', '--jobs', '1', ...folders]);
    const two = await ser(['predict', '--json', '--jobs', '2', ...folders]);
    expect(jsonLines(one.stdout).filter((l) => l.emotion).length).toBeGreaterThan(30);
    expect(two.stdout).toBe(one.stdout);
    expect(two.code).toBe(one.code);
  });

  it('runs its workers from any working directory, with the bundled model found from the main thread', async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [
          join(ROOT, 'bin/ser.js'),
          'predict',
          '--json',
          '--jobs',
          '2',
          CLIP,
          join(ROOT, 'test/fixtures/tess'),
        ],
        { cwd: tmpdir() },
        (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? 1 : 0, signal: null }),
      );
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((l) => l.emotion)).toContain('fear');
  });

  it('follows symbolic links to files and folders without looping', async () => {
    const tree = join(dir, 'tree');
    const other = join(dir, 'other');
    await mkdir(tree);
    await mkdir(other);
    await copyFile(CLIP, join(tree, 'a.flac'));
    await copyFile(CLIP, join(other, 'b.flac'));
    await symlink(other, join(tree, 'linked-folder'));
    await symlink(join(other, 'b.flac'), join(tree, 'c.flac'));
    await symlink(tree, join(other, 'back-to-tree')); // a loop: tree → other → tree
    await symlink(join(dir, 'nowhere'), join(tree, 'dangling.flac'));
    const run = await ser(['predict', '--json', tree]);
    const files = jsonLines(run.stdout).map((l) => l.file.slice(l.file.indexOf('tree')));
    expect(files).toEqual(['tree/a.flac', 'tree/c.flac', 'tree/linked-folder/b.flac']);
    expect(run.code).toBe(0);
  });

  it('prints paths as they were given, not relative to the working directory, and groups speakers by them', async () => {
    const given = join(dir, 'given'); // absolute, outside the working directory (the repository)
    await mkdir(given);
    await copyFile(CLIP, join(given, 'a.flac'));

    const named = await ser(['predict', '--json', join(given, 'a.flac')]);
    const grouped = await ser(['predict', '--json', '--group-by', 'folder', given]);

    expect(jsonLines(named.stdout).map((l) => l.file)).toEqual([join(given, 'a.flac')]);
    expect(jsonLines(grouped.stdout)).toMatchObject([{ file: join(given, 'a.flac'), speakerId: given }]);
  });

  it('stops quietly when its reader closes early (`ser predict … | head -1`)', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/ser.js'), 'predict', '--json', TESS_DIR], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.once('data', () => child.stdout.destroy()); // the reader takes one chunk and goes
    // A signal's name instead of a code, so that a failure says which.
    const code = await new Promise<number | string | null>((resolve) =>
      child.on('exit', (c, sig) => resolve(c ?? sig)),
    );

    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(0);
  });

  it("keeps a failed file's exit code 1 when its reader closes early", async () => {
    const mixed = join(dir, 'mixed');
    await mkdir(mixed);
    await writeFile(join(mixed, 'a-broken.wav'), 'RIFF not really audio');
    for (const name of ['b.flac', 'c.flac', 'd.flac']) await copyFile(CLIP, join(mixed, name));
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/ser.js'), 'predict', '--json', '--jobs', '1', mixed],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    child.stdout.once('data', () => child.stdout.destroy()); // the failed file's line, then the reader goes

    const code = await new Promise<number | string | null>((resolve) =>
      child.on('exit', (c, sig) => resolve(c ?? sig)),
    );

    expect(code).toBe(1);
  });

  it('groups one folder as one speaker however its files are written (`dir/./a.flac`, `dir/`)', async () => {
    const given = join(dir, 'spelled');
    await mkdir(given);
    await copyFile(CLIP, join(given, 'a.flac'));
    await copyFile(CLIP, join(given, 'b.flac'));

    const run = await ser(['predict', '--json', '--group-by', 'folder', `${given}/./a.flac`, `${given}/`]);

    const speakers = new Set(jsonLines(run.stdout).map((l) => (l as { speakerId?: string }).speakerId));
    expect([...speakers]).toEqual([given]);
  });

  it('groups a folder inside the working directory as one speaker, relative or absolute (`a//b.flac`)', async () => {
    const run = await ser([
      'predict',
      '--json',
      '--group-by',
      'folder',
      'test/fixtures/tess/OAF_back_sad.flac',
      'test/fixtures/tess//OAF_bath_angry.flac',
      join(ROOT, 'test/fixtures/tess/YAF_back_ps.flac'),
    ]);

    const speakers = jsonLines(run.stdout).map((l) => (l as { speakerId?: string }).speakerId);
    expect(speakers).toEqual(['test/fixtures/tess', 'test/fixtures/tess', 'test/fixtures/tess']);
  });

  it('prints hostile file names in the table without raw control characters', async () => {
    const hostile = join(dir, 'hostile');
    await mkdir(hostile);
    await copyFile(CLIP, join(hostile, 'new\nline.flac'));
    await copyFile(CLIP, join(hostile, 'esc\u001b[2Kx.flac'));

    const run = await ser(['predict', hostile]);

    expect(run.code).toBe(0);
    const rows = run.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(3); // the header and one row per file: no name split a row
    expect(run.stdout.includes('\u001b')).toBe(false);
    expect(run.stdout).toContain('esc\\u001b[2Kx.flac');
    expect(run.stdout).toContain('new\\u000aline.flac');
  });

  it('refuses --speaker beside --group-by or --jobs, and an empty speaker name', async () => {
    for (const args of [
      ['--speaker', 'x', '--group-by', 'folder'],
      ['--speaker', 'x', '--jobs', '2'],
      ['--group-by', 'folder', '--jobs', '2'],
      ['--speaker', ' '],
    ]) {
      const run = await ser(['predict', ...args, CLIP]);
      expect(run.code).toBe(2); // a usage error: 1 would mean a file failed
      expect(run.stderr).toMatch(/cannot be used with option|a speaker name cannot be empty/);
    }
  });

  it('walks folders for audio extensions, tries a named file whatever its name, and says when a walk finds none', async () => {
    const odd = join(dir, 'odd');
    await mkdir(odd);
    await copyFile(CLIP, join(odd, 'VOICE001'));
    await writeFile(join(odd, 'notes.txt'), 'not audio');

    const walked = await ser(['predict', '--json', odd]);
    expect(walked.code).toBe(2);
    expect(walked.stdout).toBe('');
    expect(walked.stderr).toMatch(
      /No audio files found: folders are searched for \.wav .*name other files directly/,
    );

    const named = await ser(['predict', '--json', join(odd, 'VOICE001')]);
    expect(named.code).toBe(0);
    expect(jsonLines(named.stdout)).toMatchObject([{ emotion: 'neutral' }]);
  });
});
