import { readFileSync } from 'node:fs';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalStack } from '../bin/local/stack.ts';
import { DEFAULT_MAX_DURATION_SEC } from '../lambdas/core/audio/limits.ts';
import { FIXTURES_DIR, tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

/** Small enough to test "over the limit" without writing megabytes; every TESS clip is under it. */
const MAX_UPLOAD_BYTES = 200_000;

interface ManifestEntry {
  path: string;
  expectError?: string;
  expectPredictError?: string;
}

const badCorpus = (JSON.parse(readFileSync(`${FIXTURES_DIR}manifest.json`, 'utf8')) as ManifestEntry[])
  .filter((entry) => entry.path.startsWith('bad/'))
  .map((entry) => ({
    name: entry.path.slice('bad/'.length),
    code: entry.expectError ?? entry.expectPredictError,
  }));

describe('bad input through the local stack: a typed 4xx or a FAILED record with a code, never a crash or a bare 500', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let local: TestStack;

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.apiUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': stack.apiKey, 'content-type': 'application/json', ...init.headers },
    });
  const createUpload = (body: unknown) =>
    api('/uploads', { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  /** Status and error code of a refused request; the code must always be there. */
  const refusal = async (response: Response) => {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    expect(body.error?.code, JSON.stringify(body)).toMatch(/^[A-Z_]+$/);
    expect(body.error?.message).toBeTruthy();
    return { status: response.status, code: body.error!.code };
  };
  const readResult = async (key: string) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as { status: string; error?: { code: string } };
  };
  const prediction = async (id: string) =>
    (await (await api(`/predictions/${id}`)).json()) as {
      status: string;
      fileName: string;
      error?: { code: string };
    };

  beforeAll(async () => {
    vi.stubEnv('MAX_UPLOAD_BYTES', String(MAX_UPLOAD_BYTES));
    local = await startTestStack({ bucket: 'ser-bad-input', apiKey: 'bad-input-test-key' });
    ({ stack, s3 } = local);
  });

  afterAll(async () => {
    await local?.close();
    vi.unstubAllEnvs();
  });

  it(`ends every file of the bad-audio corpus (${badCorpus.length} kinds) FAILED with its code`, async () => {
    expect(badCorpus.length).toBeGreaterThanOrEqual(20);
    for (const { name } of badCorpus) {
      await s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: `incoming/corpus/${name}`,
          Body: readFileSync(`${FIXTURES_DIR}bad/${name}`),
        }),
      );
    }
    await stack.idle();

    const results = await Promise.all(
      badCorpus.map(async ({ name }) => {
        const result = await readResult(`results/corpus/${name}.json`);
        return { name, status: result.status, code: result.error?.code };
      }),
    );
    expect(results).toEqual(badCorpus.map(({ name, code }) => ({ name, status: 'FAILED', code })));
  });

  it('refuses JSON bodies that are not an object, and bodies that are not JSON', async () => {
    const refusals = await Promise.all(
      ['[]', '"clip.wav"', '42', 'null', 'true', '[{"fileName":"a.wav"}]'].map(async (body) =>
        refusal(await createUpload(body)),
      ),
    );
    const notJson = await refusal(await createUpload('{"fileName": "a.wav"'));
    const empty = await refusal(await api('/uploads', { method: 'POST' }));

    for (const r of refusals) expect(r).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(notJson).toEqual({ status: 400, code: 'INVALID_JSON' });
    expect(empty).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  it('refuses unknown fields, and sizes that are negative, fractional, strings, zero, huge or over the limit', async () => {
    const cases: [unknown, number, string][] = [
      [{ fileName: 'a.wav', sizeBytes: 10, size: 10 }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', isAdmin: true }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', sizeBytes: -1 }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', sizeBytes: 1.5 }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', sizeBytes: '1000' }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', sizeBytes: 0 }, 400, 'EMPTY_AUDIO'],
      [{ fileName: 'a.wav', sizeBytes: 1e300 }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'a.wav', sizeBytes: Number.MAX_SAFE_INTEGER }, 400, 'TOO_LARGE'],
      [{ fileName: 'a.wav', sizeBytes: MAX_UPLOAD_BYTES + 1 }, 400, 'TOO_LARGE'],
      [{ fileName: '' }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'x'.repeat(300) }, 400, 'INVALID_REQUEST'],
      [{ fileName: 'page.html' }, 400, 'UNSUPPORTED_FORMAT'],
      [{ fileName: 'a.wav', contentType: 'text/html' }, 400, 'UNSUPPORTED_FORMAT'],
    ];
    const answers = await Promise.all(cases.map(async ([body]) => refusal(await createUpload(body))));
    expect(answers).toEqual(cases.map(([, status, code]) => ({ status, code })));
  });

  it("tells the web page the API's own upload and duration limits (config.json)", async () => {
    const config = (await (await fetch(`${stack.webUrl}config.json`)).json()) as {
      maxUploadBytes: number;
      maxDurationSec: number;
    };

    expect(config.maxUploadBytes).toBe(MAX_UPLOAD_BYTES);
    expect(config.maxDurationSec).toBe(DEFAULT_MAX_DURATION_SEC);
  });

  it("refuses a body over API Gateway's 10 MB with 413 and a code; a smaller one reaches the API", async () => {
    const tooLarge = await refusal(
      await createUpload({ fileName: 'a.wav', pad: 'x'.repeat(10 * 1024 * 1024) }),
    );
    const large = await refusal(await createUpload({ fileName: 'a.wav', pad: 'x'.repeat(2_000_000) }));

    expect(tooLarge).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    // The API's own answer: `pad` is not a field of the request.
    expect(large).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  it('answers 404 with a code for ids that are malformed, traversing, injected or huge', async () => {
    const ids = [
      'not-a-real-id',
      '..%2F..%2Fetc%2Fpasswd',
      '%E0%A4%A',
      "'%20OR%20'1'%3D'1",
      '%00',
      '日本語',
      'a'.repeat(2000),
    ];
    const answers = await Promise.all(ids.map(async (id) => refusal(await api(`/predictions/${id}`))));
    for (const answer of answers) expect(answer).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('keeps file names with ../ and unicode out of the object key, and still predicts the file', async () => {
    const clip = tessClip('angry');
    const names = [
      '../../etc/passwd.flac',
      '..\\..\\windows\\clip.flac',
      'résumé 日本語 😀.flac',
      '%2e%2e%2fx.flac',
    ];
    const created = await Promise.all(
      names.map(async (fileName) => {
        const response = await createUpload({ fileName, sizeBytes: clip.bytes.length });
        expect(response.status).toBe(201);
        return (await response.json()) as {
          id: string;
          upload: { url: string; headers: Record<string, string> };
        };
      }),
    );
    for (const { upload } of created) {
      const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: clip.bytes });
      expect(put.status).toBe(200);
    }
    await stack.idle();

    // The key the server chose is the presigned URL's path (s3rver refuses SDK v3 bucket listings).
    for (const [i, { id, upload }] of created.entries()) {
      const key = decodeURIComponent(new URL(upload.url).pathname).split('/').slice(2).join('/');
      expect(key).toMatch(new RegExp(`^uploads/${id}/[\\w.-]+$`));
      expect(key.split('/')).not.toContain('..');
      const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
      expect(head.ContentLength).toBe(clip.bytes.length);
      expect(await prediction(id)).toMatchObject({ status: 'SUCCEEDED', fileName: names[i] });
    }
  });

  it('refuses a 0-byte or over-limit form upload at S3 (the policy); the processor ends such drop-folder objects EMPTY_AUDIO / TOO_LARGE', async () => {
    const post = async (bytes: Uint8Array) => {
      const response = await createUpload({ fileName: 'form.wav' });
      const { id, upload } = (await response.json()) as {
        id: string;
        upload: { url: string; fields: Record<string, string> };
      };
      const form = new FormData();
      for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
      form.append('file', new Blob([bytes], { type: 'audio/wav' }), 'form.wav');
      // The local S3 checks the policy's content-length-range, as AWS does.
      const posted = await fetch(upload.url, { method: 'POST', body: form });
      return { id, status: posted.status, code: /<Code>(.*?)<\/Code>/.exec(await posted.text())?.[1] };
    };
    const empty = await post(new Uint8Array(0));
    const large = await post(new Uint8Array(MAX_UPLOAD_BYTES + 1));
    for (const [key, size] of [
      ['incoming/limits/empty.wav', 0],
      ['incoming/limits/large.wav', MAX_UPLOAD_BYTES + 1],
    ] as const) {
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: new Uint8Array(size) }));
    }
    await stack.idle();

    expect([empty, large].map(({ status, code }) => `${status} ${code}`)).toEqual([
      '400 EntityTooSmall',
      '400 EntityTooLarge',
    ]);
    expect(await prediction(empty.id)).toMatchObject({ status: 'PENDING' });
    expect(await prediction(large.id)).toMatchObject({ status: 'PENDING' });
    expect(await readResult('results/limits/empty.wav.json')).toMatchObject({
      status: 'FAILED',
      error: { code: 'EMPTY_AUDIO' },
    });
    expect(await readResult('results/limits/large.wav.json')).toMatchObject({
      status: 'FAILED',
      error: { code: 'TOO_LARGE' },
    });
  });
});
