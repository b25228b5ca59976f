import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toProxyEvent } from '../bin/local/api-gateway-event.ts';
import { loadApiConfig } from '../lambdas/app/config.ts';
import { createApiHandler } from '../lambdas/app/http-api.ts';
import { dropFolderScope } from '../lambdas/app/speaker-context.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';
import { speakerErasureOn } from './helpers/speaker-erasure.ts';

describe('API handler against dynalite and s3rver', () => {
  let aws: TestAws;
  let api: ReturnType<typeof createApiHandler>;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const unexpected: unknown[] = [];

  const call = async (method: string, url: string, body?: unknown) => {
    const built = toProxyEvent({
      method,
      url,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    if (!built.ok) throw new Error(built.message);
    const response = await api(built.event);
    return { status: response.statusCode, headers: response.headers, json: JSON.parse(response.body) };
  };

  beforeAll(async () => {
    aws = await startTestAws();
    // Each record is one second newer than the last, so "newest first" is unambiguous.
    const now = () => {
      clock += 1000;
      return new Date(clock);
    };
    const repository = predictionRepositoryOn(aws, { now });
    api = createApiHandler({
      createUpload: uploadServiceOn(aws, repository, { now }),
      repository,
      modelVersion: 'test-model-1',
      corsAllowOrigins: ['https://example.test'],
      onUnexpectedError: (error) => unexpected.push(error),
    });
  });

  afterAll(async () => {
    await aws?.close();
  });

  it('answers health and the OpenAPI document', async () => {
    const health = await call('GET', '/health');
    const openapi = await call('GET', '/openapi.json');

    expect(health).toMatchObject({ status: 200, json: { status: 'ok', modelVersion: 'test-model-1' } });
    expect(health.headers?.['Access-Control-Allow-Origin']).toBe('https://example.test');
    expect(openapi.status).toBe(200);
    expect(openapi.json.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.json.paths).sort()).toEqual([
      '/drop-folder/speakers/{id}',
      '/drop-folder/speakers/{id}/predictions',
      '/health',
      '/models',
      '/models/{version}/activate',
      '/openapi.json',
      '/predictions',
      '/predictions/{id}',
      '/speakers/{id}',
      '/training-jobs',
      '/training-jobs/{id}',
      '/uploads',
    ]);
  });

  it('creates an upload with a presigned PUT and a PENDING prediction', async () => {
    const created = await call('POST', '/uploads', { fileName: '../../etc/My Clip.wav', sizeBytes: 48_000 });

    expect(created.status).toBe(201);
    const { id, upload, expiresAt, predictionUrl } = created.json;
    expect(predictionUrl).toBe(`/predictions/${id}`);
    expect(upload.method).toBe('PUT');
    expect(upload.headers).toEqual({ 'Content-Type': 'audio/wav' });
    const url = new URL(upload.url);
    expect(url.pathname).toBe(`/${aws.bucket}/uploads/${id}/My_Clip.wav`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type', 'host']),
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.parse('2026-01-01T00:00:00Z'));
    const prediction = await call('GET', predictionUrl);
    expect(prediction.json).toMatchObject({
      id,
      status: 'PENDING',
      source: 'api',
      fileName: '../../etc/My Clip.wav',
    });
    expect(Object.keys(prediction.json).sort()).toEqual(
      ['createdAt', 'fileName', 'id', 'source', 'status', 'updatedAt'].sort(),
    );
  });

  it('creates a presigned POST with a size range when no size is declared', async () => {
    const created = await call('POST', '/uploads', { fileName: 'clip.ogg' });

    expect(created.status).toBe(201);
    expect(created.json.upload.method).toBe('POST');
    expect(created.json.upload.fields).toMatchObject({
      key: `uploads/${created.json.id}/clip.ogg`,
      'Content-Type': 'audio/ogg',
    });
    const policy = JSON.parse(Buffer.from(created.json.upload.fields.Policy, 'base64').toString('utf8'));
    expect(policy.conditions).toContainEqual(['content-length-range', 1, 25 * 1024 * 1024]);
  });

  it.each([
    [{ fileName: 'notes.txt' }, 'UNSUPPORTED_FORMAT'],
    [{ fileName: 'clip.wav', contentType: 'video/x-msvideo' }, 'UNSUPPORTED_FORMAT'],
    [{ fileName: 'clip.avi' }, 'UNSUPPORTED_FORMAT'],
    [{ fileName: 'clip.wav', sizeBytes: 25 * 1024 * 1024 + 1 }, 'TOO_LARGE'],
    [{ fileName: 'clip.wav', sizeBytes: 0 }, 'EMPTY_AUDIO'],
    [{ fileName: '' }, 'INVALID_REQUEST'],
    [{ sizeBytes: 10 }, 'INVALID_REQUEST'],
    ['{not json', 'INVALID_JSON'],
  ])('refuses %j with 400 %s before issuing any URL', async (body, code) => {
    const response = await call('POST', '/uploads', body);

    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: { code, message: expect.any(String) } });
  });

  it.each([
    ['\u202eevil'], // a right-to-left override: an id that displays as another
    ['\u200b'], // invisible
    [' agent-7'], // would be another context than agent-7
    ['a/b'],
    ['José'], // outside printable ASCII: ids are names for machines
    ['x'.repeat(129)],
    ['.'], // as a path segment, DELETE /speakers/. is resolved away: a speaker that could not be erased
    ['..'],
  ])('refuses the speakerId %j', async (speakerId) => {
    const response = await call('POST', '/uploads', { fileName: 'a.wav', sizeBytes: 10, speakerId });
    expect(response.status).toBe(400);
    expect(response.json.error.message).toMatch(/speakerId/);
  });

  it('accepts printable ASCII speaker ids with inner spaces, and dots but for "." and ".."', async () => {
    for (const speakerId of ['agent-7', 'room 12', 'a'.repeat(128), 'x@y.example:1', '.a', 'a.', '...']) {
      expect((await call('POST', '/uploads', { fileName: 'a.wav', sizeBytes: 10, speakerId })).status).toBe(
        201,
      );
    }
  });

  it('takes an optional field sent as null as absent, as many JSON serialisers write unset fields', async () => {
    const created = await call('POST', '/uploads', {
      fileName: 'nulls.wav',
      contentType: null,
      sizeBytes: null,
      callbackUrl: null,
      speakerId: null,
    });
    expect(created.status).toBe(201);
    expect(created.json.upload.method).toBe('POST'); // no size: the form, as when sizeBytes is left out
  });

  it('reads a JSON body that starts with a UTF-8 byte-order mark', async () => {
    const created = await call('POST', '/uploads', '\uFEFF{"fileName":"bom.wav","sizeBytes":10}');
    expect(created.status).toBe(201);
  });

  it('names each refused field of a request in one plain line', async () => {
    const response = await call('POST', '/uploads', { fileName: '', sizeBytes: -1, foo: 1 });

    expect(response.status).toBe(400);
    const { message } = response.json.error;
    expect(message).toContain('fileName: ');
    expect(message).toContain('sizeBytes: ');
    expect(message).toContain('Unrecognized key: "foo"');
    expect(message).not.toMatch(/[✖→\n]/);
  });

  it.each([
    [{ fileName: 'take.aiff', sizeBytes: 10 }, 'audio/aiff'],
    [{ fileName: 'Memo.M4A', sizeBytes: 10 }, 'audio/mp4'],
    [{ fileName: 'call.mov', sizeBytes: 10 }, 'audio/mp4'], // the entry's first type: content decides
    [{ fileName: 'recording.webm', contentType: 'audio/webm;codecs=opus', sizeBytes: 10 }, 'audio/webm'],
    [{ fileName: 'recording.mp4', contentType: 'audio/mp4', sizeBytes: 10 }, 'audio/mp4'],
    [{ fileName: 'clip.mkv', sizeBytes: 10 }, 'audio/webm'],
    // The types browsers give phone videos (Android's .3gp, iTunes' .m4v).
    [{ fileName: 'memo.3gp', contentType: 'video/3gpp', sizeBytes: 10 }, 'video/3gpp'],
    [{ fileName: 'clip.m4v', contentType: 'video/x-m4v', sizeBytes: 10 }, 'video/x-m4v'],
    // What Chrome gives .mkv/.mka (RFC 9559's types), .aifc and its own audio/webm downloads (.weba).
    [{ fileName: 'talk.mkv', contentType: 'video/matroska', sizeBytes: 10 }, 'video/matroska'],
    [{ fileName: 'talk.mka', contentType: 'audio/matroska', sizeBytes: 10 }, 'audio/matroska'],
    [{ fileName: 'take.aifc', contentType: 'audio/x-aifc', sizeBytes: 10 }, 'audio/x-aifc'],
    [{ fileName: 'recording.weba', contentType: 'audio/webm', sizeBytes: 10 }, 'audio/webm'],
  ])('accepts %j (the one format list) and signs Content-Type %s', async (body, contentType) => {
    const created = await call('POST', '/uploads', body);
    expect(created.status).toBe(201);
    expect(created.json.upload.headers).toEqual({ 'Content-Type': contentType });
  });

  it('answers 404 for an unknown prediction', async () => {
    const unknown = await call('GET', '/predictions/00000000-0000-0000-0000-000000000000');
    const malformed = await call('GET', '/predictions/not%20an%20id');

    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
    expect(malformed.status).toBe(404);
  });

  it('lists predictions newest first, page by page', async () => {
    const ids: string[] = [];
    for (const fileName of ['a.wav', 'b.mp3', 'c.flac']) {
      ids.push((await call('POST', '/uploads', { fileName, sizeBytes: 100 })).json.id);
    }

    const first = await call('GET', '/predictions?limit=2');
    const second = await call('GET', `/predictions?limit=2&cursor=${first.json.nextCursor}`);
    const badCursor = await call('GET', '/predictions?cursor=bm90LWEtY3Vyc29y');
    const badLimit = await call('GET', '/predictions?limit=1000');
    const emptyCursor = await call('GET', '/predictions?cursor=');

    expect(first.json.items.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    expect(second.json.items[0].id).toBe(ids[0]);
    expect(badCursor).toMatchObject({ status: 400, json: { error: { code: 'INVALID_CURSOR' } } });
    expect(badLimit).toMatchObject({ status: 400, json: { error: { code: 'INVALID_REQUEST' } } });
    // A page that ends exactly at the last item has no cursor (it led to an empty last page).
    const everything = await call('GET', '/predictions?limit=100');
    const exact = await call('GET', `/predictions?limit=${everything.json.items.length}`);
    expect(everything.json.nextCursor).toBeUndefined();
    expect(exact.json.items).toHaveLength(everything.json.items.length);
    expect(exact.json.nextCursor).toBeUndefined();
    // Each refusal names the parameter at fault (an empty cursor was reported as a bad limit).
    expect(badLimit.json.error.message).toMatch(/^limit: /);
    expect(emptyCursor.json.error.message).toMatch(/^cursor: /);
    expect(unexpected).toEqual([]);
  });

  it('without drop-folder speaker prefixes, lists a drop-folder speaker as its erase erases it: nothing, 200', async () => {
    // Prepare
    const repository = predictionRepositoryOn(aws);
    const id = '0b6f3c2e-9a4d-4d0e-8f7a-00000000d0f1';
    await repository.createPending({
      id,
      fileName: 'a.flac',
      bucket: aws.bucket,
      key: 'incoming/calls/agent-5/a.flac',
      speaker: { scope: dropFolderScope('calls'), speakerId: 'agent-5' },
    });
    const handlerWith = (prefixes?: string[]) =>
      createApiHandler({
        createUpload: () => Promise.reject(new Error('unused')),
        repository,
        eraseSpeaker: speakerErasureOn(aws, repository),
        ...(prefixes ? { dropFolderSpeakerPrefixes: prefixes } : {}),
        modelVersion: 'm',
        corsAllowOrigins: ['*'],
      });
    const send = async (handler: ReturnType<typeof createApiHandler>, method: string, url: string) => {
      const built = toProxyEvent({ method, url });
      if (!built.ok) throw new Error(built.message);
      const response = await handler(built.event);
      return { status: response.statusCode, json: JSON.parse(response.body) };
    };

    // Act
    const listed = await send(handlerWith(), 'GET', '/drop-folder/speakers/agent-5/predictions');
    const erased = await send(handlerWith(), 'DELETE', '/drop-folder/speakers/agent-5');
    const withPrefix = await send(handlerWith(['calls']), 'GET', '/drop-folder/speakers/agent-5/predictions');

    // Assess
    expect(listed).toEqual({ status: 200, json: { items: [] } });
    expect(erased).toEqual({
      status: 200,
      json: { speakerId: 'agent-5', erased: false, recordsDeleted: 0, more: false, speakerPrefixes: [] },
    });
    expect(
      (await send(handlerWith(['calls']), 'DELETE', '/drop-folder/speakers/agent-5')).json,
    ).toMatchObject({
      speakerPrefixes: ['calls'],
    });
    expect(withPrefix.json.items.map((p: { id: string }) => p.id)).toEqual([id]);
  });

  it("names the caller's origin when a deployer allows several, and the web page's otherwise", async () => {
    const handler = createApiHandler({
      createUpload: () => Promise.reject(new Error('unused')),
      repository: {
        get: async () => undefined,
        list: () => Promise.reject(new Error('unused')),
        listBySpeaker: () => Promise.reject(new Error('unused')),
      },
      modelVersion: 'm',
      corsAllowOrigins: ['https://web.example', 'http://localhost:5173'],
    });
    const from = async (origin: string) => {
      const built = toProxyEvent({ method: 'GET', url: '/health', headers: { origin } });
      if (!built.ok) throw new Error('route not found');
      return (await handler(built.event)).headers ?? {};
    };

    expect(await from('http://localhost:5173')).toMatchObject({
      'Access-Control-Allow-Origin': 'http://localhost:5173',
      Vary: 'Origin',
    });
    expect((await from('https://evil.example'))['Access-Control-Allow-Origin']).toBe('https://web.example');
  });

  it('hides unexpected failures behind a generic 500', async () => {
    const broken = createApiHandler({
      createUpload: () => Promise.reject(new Error('secret internals')),
      repository: {
        get: () => Promise.reject(new Error('x')),
        list: () => Promise.reject(new Error('x')),
        listBySpeaker: () => Promise.reject(new Error('x')),
      },
      modelVersion: 'm',
      corsAllowOrigins: ['*'],
    });
    const built = toProxyEvent({ method: 'POST', url: '/uploads', body: '{"fileName":"a.wav"}' });
    if (!built.ok) throw new Error('route not found');

    const response = await broken(built.event);

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret');
  });

  it('does not start without the bundled model version (MODEL_VERSION), and says so by name', () => {
    // Prepare
    const env = { BUCKET_NAME: 'bucket', TABLE_NAME: 'table' };

    // Act
    const config = loadApiConfig({ ...env, MODEL_VERSION: '1.3.1' });

    // Assess
    expect(config.modelVersion).toBe('1.3.1');
    expect(() => loadApiConfig(env)).toThrow(/MODEL_VERSION/);
  });
});
