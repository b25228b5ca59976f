import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { tessClip } from './helpers/fixtures.ts';
import { useTestStack } from './helpers/local-stack.ts';

/** Deterministic bytes that are no audio format. */
const noise = (length: number): Uint8Array => {
  let x = 0x2545f491;
  return Uint8Array.from({ length }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
};

describe('hardening round 2, reproduced through the local stack', () => {
  const local = useTestStack({ bucket: 'ser-hardening', apiKey: 'hardening-test-key' });
  const { api } = local;
  const put = (key: string, body: Uint8Array) =>
    local.s3.send(new PutObjectCommand({ Bucket: local.stack.bucket, Key: key, Body: body }));
  const readResult = async (key: string) => {
    const object = await local.s3.send(new GetObjectCommand({ Bucket: local.stack.bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as Record<string, unknown>;
  };

  it('a presigned URL used twice: the record follows the last upload and keeps nothing of the first', async () => {
    const clip = tessClip('sad');
    const created = (await (
      await api('/uploads', {
        method: 'POST',
        body: JSON.stringify({ fileName: 'clip.flac', sizeBytes: clip.bytes.length }),
      })
    ).json()) as { id: string; upload: { method: string; url: string; headers: Record<string, string> } };
    const upload = (body: Uint8Array) =>
      fetch(created.upload.url, { method: created.upload.method, headers: created.upload.headers, body });

    expect((await upload(clip.bytes)).status).toBe(200);
    await local.stack.idle();
    const first = (await (await api(`/predictions/${created.id}`)).json()) as Record<string, unknown>;
    expect((await upload(noise(clip.bytes.length))).status).toBe(200);
    await local.stack.idle();
    const second = (await (await api(`/predictions/${created.id}`)).json()) as Record<string, unknown>;

    expect(first).toMatchObject({ status: 'SUCCEEDED', emotion: expect.any(String) });
    expect(second).toMatchObject({ status: 'FAILED', error: { code: 'UNSUPPORTED_FORMAT' } });
    for (const field of [
      'emotion',
      'confidence',
      'probabilities',
      'segments',
      'durationSec',
      'modelVersion',
    ]) {
      expect(second, field).not.toHaveProperty(field);
    }
  });

  it('a drop-folder key rewritten sad → angry → sad ends with the last upload’s result', async () => {
    const key = 'incoming/revert/clip.flac';
    const emotions: unknown[] = [];
    for (const emotion of ['sad', 'angry', 'sad']) {
      await put(key, tessClip(emotion).bytes);
      await local.stack.idle();
      emotions.push((await readResult('results/revert/clip.flac.json')).emotion);
    }
    const [sad, angry, sadAgain] = emotions;
    expect(angry).not.toBe(sad);
    expect(sadAgain).toBe(sad);
  });

  it('a drop-folder key whose result key would pass 1024 bytes ends FAILED KEY_TOO_LONG', async () => {
    // 'incoming/' + path = 1021 bytes → 'results/' + path + '.json' = 1025 bytes. Segments of 100 bytes:
    // s3rver stores keys as files, whose names are limited to 255 bytes each.
    const fileName = 'clip.flac';
    let dirs = 'long';
    while (`incoming/${dirs}/${fileName}`.length < 1021) dirs += dirs.length % 101 === 100 ? '/' : 'a';
    const key = `incoming/${dirs}/${fileName}`;
    expect(Buffer.byteLength(key)).toBe(1021);
    await put(key, tessClip('happy').bytes);
    await local.stack.idle();
    const listing = (await (await api('/predictions?limit=5')).json()) as {
      items: { fileName: string; status: string; error?: { code: string } }[];
    };
    expect(listing.items.find((item) => item.fileName === fileName)).toMatchObject({
      status: 'FAILED',
      error: { code: 'KEY_TOO_LONG' },
    });
  });

  it('refuses "." and ".." key segments locally: incoming/../../x never leaves the bucket folder', async () => {
    for (const key of ['incoming/../../escape.wav', 'incoming/./x.wav', 'incoming/a/../../../x.wav']) {
      await expect(put(key, tessClip('sad').bytes), key).rejects.toMatchObject({ name: 'InvalidArgument' });
    }
  });

  it('a hand-made cursor is 400 INVALID_CURSOR, never 500', async () => {
    const handMade = [
      Buffer.from(JSON.stringify({ id: 'x', gsi1pk: 'PREDICTION', gsi1sk: 'y' })).toString('base64url'),
      Buffer.from('2026-01-01T00:00:00.000Z#MODEL_ACTIVE').toString('base64url'),
      Buffer.from('not a sort key').toString('base64url'),
      '!!!',
    ];
    for (const cursor of handMade) {
      const response = await api(`/predictions?cursor=${encodeURIComponent(cursor)}`);
      expect(response.status, cursor).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INVALID_CURSOR');
    }
    // A cursor the API returned still pages.
    const page = (await (await api('/predictions?limit=1')).json()) as { nextCursor?: string };
    expect(page.nextCursor).toBeDefined();
    expect((await api(`/predictions?limit=1&cursor=${page.nextCursor}`)).status).toBe(200);
  });

  it('internal items are not predictions: GET /predictions/MODEL_ACTIVE and the training lock are 404', async () => {
    for (const id of ['MODEL_ACTIVE', 'TRAINING_LOCK', 'MODEL%231.3.0']) {
      expect((await api(`/predictions/${id}`)).status, id).toBe(404);
    }
  });
});
