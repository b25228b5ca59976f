import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessClip } from './helpers/fixtures.ts';
import { type LocalStackProcess, spawnLocalStack, waitForPrediction } from './helpers/local-stack-process.ts';

const DEV_SERVER = 'http://localhost:5173';

describe('npm start: the local stack end to end, over HTTP only', () => {
  let dataDir: string;
  let stack: LocalStackProcess;

  const api = (path: string, init: RequestInit = {}, key: string | null = stack.apiKey) =>
    fetch(`${stack.apiUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}), ...init.headers },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ser-e2e-'));
    // A front end beside the web page, as SER_CORS_ORIGINS (or -c allowedOrigins on AWS) adds one.
    stack = await spawnLocalStack(dataDir, undefined, { SER_CORS_ORIGINS: DEV_SERVER });
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints the API, web page, S3 endpoint + bucket and API key at start-up', () => {
    expect(stack.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.webUrl).toBe(`${stack.apiUrl}/`);
    expect(stack.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.bucket).toBe('ser-e2e');
    expect(stack.apiKey).toBe('e2e-test-key');
  });

  it('serves health and the OpenAPI document without a key, and refuses other routes without the right key', async () => {
    const health = await api('/health', {}, null);
    const openapi = await api('/openapi.json', {}, null);
    const noKey = await api('/predictions', {}, null);
    const wrongKey = await api('/predictions', {}, 'e2e-test-kez');

    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', modelVersion: expect.any(String) });
    expect(openapi.status).toBe(200);
    expect(noKey.status).toBe(403);
    expect(await wrongKey.json()).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } });
  });

  /** POST /uploads, PUT the clip to the presigned URL, wait for the terminal record. */
  async function uploadAndWait(clip: ReturnType<typeof tessClip>) {
    const created = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({
        fileName: clip.fileName,
        contentType: 'audio/flac',
        sizeBytes: clip.bytes.length,
      }),
    });
    expect(created.status).toBe(201);
    const { id, upload, predictionUrl } = (await created.json()) as {
      id: string;
      upload: { method: string; url: string; headers: Record<string, string> };
      predictionUrl: string;
    };
    const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: clip.bytes });
    return { id, predictionUrl, putStatus: put.status, prediction: await waitForPrediction(stack, id) };
  }

  it('uploads a TESS clip to the presigned URL and gets its emotion', async () => {
    // Prepare
    const clip = tessClip('angry');

    // Act
    const { id, predictionUrl, putStatus, prediction } = await uploadAndWait(clip);

    // Assess
    expect(putStatus).toBe(200);
    expect(predictionUrl).toBe(`/predictions/${id}`);
    expect(prediction).toMatchObject({
      id,
      status: 'SUCCEEDED',
      source: 'api',
      fileName: clip.fileName,
      emotion: 'angry',
    });
    expect(
      Object.values(prediction.probabilities as Record<string, number>).reduce((a, b) => a + b),
    ).toBeCloseTo(1, 2);
    const listed = (await (await api('/predictions?limit=5')).json()) as { items: { id: string }[] };
    expect(listed.items[0]?.id).toBe(id);
    expect(stack.output.some((line) => line.includes(`processed ${clip.fileName}`))).toBe(true);
    expect(stack.output.some((line) => /POST \/uploads 201/.test(line))).toBe(true);
  });

  it('refuses an upload to a tampered presigned URL', async () => {
    const clip = tessClip('sad');
    const created = (await (
      await api('/uploads', {
        method: 'POST',
        body: JSON.stringify({ fileName: 'sad.flac', sizeBytes: clip.bytes.length }),
      })
    ).json()) as { id: string; upload: { url: string; headers: Record<string, string> } };
    const tampered = new URL(created.upload.url);
    tampered.pathname = tampered.pathname.replace(created.id, '00000000-0000-4000-8000-000000000000');

    const put = await fetch(tampered, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });

    expect(put.status).toBe(403);
    expect(await put.text()).toContain('SignatureDoesNotMatch');
    expect(((await (await api(`/predictions/${created.id}`)).json()) as { status: string }).status).toBe(
      'PENDING',
    );
  });

  it('serves the web page at /', async () => {
    const page = await fetch(stack.webUrl);
    const script = await fetch(`${stack.apiUrl}/app.js`);

    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>SER');
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(await script.text()).toBe(
      await readFile(new URL('../lambdas/web/app.js', import.meta.url), 'utf8'),
    );
  });

  it('answers CORS as API Gateway is configured to: preflights, and refusals that carry the origin', async () => {
    const preflight = await fetch(`${stack.apiUrl}/speakers/agent-7`, {
      method: 'OPTIONS',
      headers: { origin: stack.apiUrl, 'access-control-request-method': 'DELETE' },
    });
    const unknown = await api('/nope');
    const noKey = await api('/predictions', {}, null);
    const head = await fetch(stack.webUrl, { method: 'HEAD' });

    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(stack.apiUrl);
    expect(preflight.headers.get('access-control-allow-methods')?.split(',')).toContain('DELETE');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-api-key');
    for (const refused of [unknown, noKey]) {
      expect(refused.headers.get('access-control-allow-origin')).toBe(stack.apiUrl);
    }
    expect((await fetch(`${stack.apiUrl}/nope`, { method: 'OPTIONS' })).status).toBe(404);
    // An added origin is named back to it by the preflight, the API and S3; any other gets the page's.
    const fromDev = { origin: DEV_SERVER, 'access-control-request-method': 'POST' };
    const devPreflight = await fetch(`${stack.apiUrl}/uploads`, { method: 'OPTIONS', headers: fromDev });
    const devHealth = await fetch(`${stack.apiUrl}/health`, { headers: { origin: DEV_SERVER } });
    const otherHealth = await fetch(`${stack.apiUrl}/health`, { headers: { origin: 'http://evil.example' } });
    const s3Preflight = (origin: string) =>
      fetch(`${stack.s3Endpoint}/${stack.bucket}/uploads/x/clip.wav`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'PUT' },
      });
    expect(devPreflight.headers.get('access-control-allow-origin')).toBe(DEV_SERVER);
    expect(devHealth.headers.get('access-control-allow-origin')).toBe(DEV_SERVER);
    expect(devHealth.headers.get('vary')).toBe('Origin');
    expect(otherHealth.headers.get('access-control-allow-origin')).toBe(stack.apiUrl);
    // s3rver answers an allowed preflight with '*' (S3 names the origin); a refused one is 403 either way.
    expect((await s3Preflight(DEV_SERVER)).status).toBe(200);
    expect((await s3Preflight('http://evil.example')).status).toBe(403);
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
  });

  it('stops cleanly on Ctrl-C and keeps its history across a restart on the same folder', async () => {
    const { id } = await uploadAndWait(tessClip('angry'));

    const code = await stack.stop();
    // A front end beside the web page, as SER_CORS_ORIGINS (or -c allowedOrigins on AWS) adds one.
    stack = await spawnLocalStack(dataDir, undefined, { SER_CORS_ORIGINS: DEV_SERVER });
    const again = (await (await api(`/predictions/${id}`)).json()) as { status: string; emotion: string };

    expect(code).toBe(0);
    expect(again).toMatchObject({ status: 'SUCCEEDED', emotion: 'angry' });
  });
});
