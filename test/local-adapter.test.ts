import { describe, expect, it } from 'vitest';
import { toProxyEvent } from '../bin/local/api-gateway-event.ts';
import { encodeS3EventKey, toNotification } from '../bin/local/s3-event-bridge.ts';
import { readStaticFile } from '../bin/local/static-files.ts';
import { decodeS3Key } from '../lambdas/app/s3-event.ts';
import { WEB_DIR } from '../lib/paths.ts';
import { webSecurityHeaders } from '../lib/web-security-headers.ts';
import { useTestStack } from './helpers/local-stack.ts';

const s3rverEvent = (key: string, eventName = 'ObjectCreated:Put') => ({
  Records: [{ eventName, s3: { bucket: { name: 'b' }, object: { key } } }],
});

describe('local stack adapters', () => {
  it('encodes keys in notifications as S3 does, and the handler decodes them back', () => {
    for (const key of ['incoming/batch 7/clip one.wav', 'incoming/a+b/ü&=?.wav', 'uploads/x/100%.flac']) {
      expect(decodeS3Key(encodeS3EventKey(key))).toBe(key);
    }
    expect(encodeS3EventKey('incoming/batch 7/a+b.wav')).toBe('incoming/batch+7/a%2Bb.wav');
  });

  it('notifies only for objects created under uploads/ and incoming/, like the bucket configuration', () => {
    // Each write gets its own sequencer (time, then a counter), as S3's differ for every write.
    const sequenced = (key: string) => ({
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key, sequencer: expect.stringMatching(/^[0-9A-F]{20}$/) } },
        },
      ],
    });
    const first = toNotification(s3rverEvent('incoming/a b.wav'));
    expect(first).toEqual(sequenced('incoming/a+b.wav'));
    const second = toNotification(s3rverEvent('uploads/id/a.wav'));
    expect(second).toEqual(sequenced('uploads/id/a.wav'));
    const sequencerOf = (event: typeof first) =>
      (event?.Records[0]?.s3.object as { sequencer?: string } | undefined)?.sequencer;
    expect(sequencerOf(second)).not.toBe(sequencerOf(first));
    expect(toNotification(s3rverEvent('results/a.wav.json'))).toBeUndefined();
    expect(toNotification(s3rverEvent('incoming/a.wav', 'ObjectRemoved:Delete'))).toBeUndefined();
  });

  it('builds API Gateway proxy events for known routes and refuses the rest', () => {
    const get = toProxyEvent({ method: 'GET', url: '/predictions/abc?x=1', headers: { 'x-api-key': 'k' } });
    expect(get.ok && get.event).toMatchObject({
      resource: '/predictions/{id}',
      path: '/predictions/abc',
      pathParameters: { id: 'abc' },
      queryStringParameters: { x: '1' },
      requestContext: { identity: { apiKey: 'k' } },
    });
    expect(toProxyEvent({ method: 'GET', url: '/nope' })).toMatchObject({ ok: false, statusCode: 404 });
    expect(toProxyEvent({ method: 'DELETE', url: '/uploads' })).toMatchObject({ ok: false, statusCode: 405 });
  });

  it('serves only files of the web folder', async () => {
    expect((await readStaticFile(WEB_DIR, '/'))?.type).toContain('text/html');
    expect(await readStaticFile(WEB_DIR, '/../../package.json')).toBeUndefined();
    expect(await readStaticFile(WEB_DIR, '/..%2F..%2Fpackage.json')).toBeUndefined();
    expect(await readStaticFile(WEB_DIR, '/%2e%2e/%2e%2e/etc/passwd')).toBeUndefined();
    expect(await readStaticFile(WEB_DIR, '/predictions/%E0%A4%A')).toBeUndefined();
  });
});

describe('the local API adapter over HTTP, as API Gateway answers', () => {
  const local = useTestStack({ bucket: 'ser-adapter', apiKey: 'adapter-test-key' });

  it('routes a path that begins with // as that path, never as a host (no web page for //predictions)', async () => {
    // Act
    const answers = await Promise.all(
      ['//predictions', '//predictions?limit=1', '//', '//health'].map((path) => local.api(path)),
    );

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toContain('application/json');
      expect(await answer.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    expect((await local.api('/predictions?limit=1')).status).toBe(200);
  });

  it('serves the web page with the security headers CloudFront adds on AWS, uploads to the local S3 allowed', async () => {
    // Act
    const answers = await Promise.all(
      ['/', '/app.js', '/config.json'].map((path) =>
        fetch(`${local.stack.webUrl.replace(/\/$/, '')}${path}`),
      ),
    );

    // Assess: the one list lib/web-security-headers.ts keeps for both, with the local S3 as the upload origin.
    const expected = webSecurityHeaders([local.stack.s3Endpoint]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      for (const [name, value] of Object.entries(expected)) expect(answer.headers.get(name)).toBe(value);
    }
    const csp = answers[0]!.headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ${local.stack.s3Endpoint}`);
    expect(answers[0]!.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answers[0]!.headers.get('x-frame-options')).toBe('DENY');
    expect(answers[0]!.headers.get('referrer-policy')).toBe('no-referrer');
  });
});
