import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from './helpers/fixtures.ts';
import { useTestStack } from './helpers/local-stack.ts';

/**
 * The containers phones and browsers write (M4A, MP4 with video, MOV, WebM/Opus, Matroska/Vorbis):
 * held-out TESS clips transcoded by the fixture script get their emotion, and corrupt ones end typed,
 * through the CLI, POST /uploads + PUT, and the drop folder.
 */
interface ManifestEntry {
  path: string;
  emotion?: string;
  expectError?: string;
}
const manifest = JSON.parse(readFileSync(join(FIXTURES_DIR, 'manifest.json'), 'utf8')) as ManifestEntry[];
const clips = manifest.filter((e) => e.path.startsWith('tess-formats/'));
const corrupt = manifest.filter((e) => e.expectError && /\.(m4a|mp4|mov|webm|mkv)$/.test(e.path));
const ROOT = join(FIXTURES_DIR, '..', '..');
const fileName = (path: string) => path.split('/').at(-1)!;

describe('new containers through the CLI', () => {
  it('predicts each transcoded TESS clip’s emotion and reports each corrupt file typed', async () => {
    const run = promisify(execFile);
    const files = [...clips, ...corrupt].map((e) => join('test/fixtures', e.path));
    const { stdout } = await run(
      process.execPath,
      [join(ROOT, 'bin/ser.js'), 'predict', '--json', ...files],
      {
        cwd: ROOT,
      },
    ).catch((e: { stdout: string }) => e);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; emotion?: string; error?: { code: string } });
    for (const entry of [...clips, ...corrupt]) {
      const line = lines.find((l) => l.file === join('test/fixtures', entry.path));
      expect(line, entry.path).toBeDefined();
      if (entry.emotion) expect(line?.emotion, entry.path).toBe(entry.emotion);
      else expect(line?.error?.code, entry.path).toBe(entry.expectError);
    }
    expect(readdirSync(join(FIXTURES_DIR, 'tess-formats'))).toHaveLength(clips.length);
  });
});

describe('new containers through the local stack', () => {
  const local = useTestStack({ bucket: 'ser-formats', apiKey: 'formats-test-key' });
  const { api } = local;

  it('POST /uploads + PUT: each clip SUCCEEDED with its emotion, each corrupt file FAILED typed', async () => {
    const ids = new Map<string, string>();
    for (const entry of [...clips, ...corrupt]) {
      const bytes = readFileSync(join(FIXTURES_DIR, entry.path));
      const response = await api('/uploads', {
        method: 'POST',
        body: JSON.stringify({ fileName: fileName(entry.path), sizeBytes: bytes.length }),
      });
      expect(response.status, entry.path).toBe(201);
      const created = (await response.json()) as {
        id: string;
        upload: { url: string; headers: Record<string, string> };
      };
      const put = await fetch(created.upload.url, {
        method: 'PUT',
        headers: created.upload.headers,
        body: bytes,
      });
      expect(put.status, entry.path).toBe(200);
      ids.set(entry.path, created.id);
    }
    await local.stack.idle();
    for (const entry of [...clips, ...corrupt]) {
      const prediction = (await (await api(`/predictions/${ids.get(entry.path)}`)).json()) as {
        status: string;
        emotion?: string;
        error?: { code: string };
      };
      if (entry.emotion)
        expect(prediction, entry.path).toMatchObject({ status: 'SUCCEEDED', emotion: entry.emotion });
      else
        expect(prediction, entry.path).toMatchObject({
          status: 'FAILED',
          error: { code: entry.expectError },
        });
    }
  });

  it('drop folder: each clip’s result names its emotion', async () => {
    for (const entry of clips) {
      await local.s3.send(
        new PutObjectCommand({
          Bucket: local.stack.bucket,
          Key: `incoming/formats/${fileName(entry.path)}`,
          Body: readFileSync(join(FIXTURES_DIR, entry.path)),
        }),
      );
    }
    await local.stack.idle();
    for (const entry of clips) {
      const object = await local.s3.send(
        new GetObjectCommand({
          Bucket: local.stack.bucket,
          Key: `results/formats/${fileName(entry.path)}.json`,
        }),
      );
      const result = JSON.parse(await object.Body!.transformToString()) as {
        status: string;
        emotion?: string;
      };
      expect(result, entry.path).toMatchObject({ status: 'SUCCEEDED', emotion: entry.emotion });
    }
  });
});
