import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../bin/local/stack.ts';
import { printable } from '../bin/printable.ts';
import { loadConfig } from '../lambdas/app/config.ts';
import { sanitizeFileName, uploadKey } from '../lambdas/app/object-keys.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';
import { synthStack } from './helpers/synth-stack.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe('security: the deployed stack (CDK assertions)', () => {
  const model = fakeModelPackage('security-test');
  let template: Template;
  let resources: Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  beforeAll(() => {
    template = synthStack('SerSecurityTest', { modelDir: model.dir }).template;
    resources = template.toJSON().Resources;
  });
  afterAll(() => model.remove());

  it('publishes no secret in outputs or function environments (the API key value is fetched, never output)', () => {
    const outputs = JSON.stringify(template.toJSON().Outputs);
    const apiKeyIds = ofType('AWS::ApiGateway::ApiKey').map(([id]) => id);
    expect(apiKeyIds).toHaveLength(1);
    // Only the key's id may appear (a Ref), in the command that fetches the value with IAM credentials.
    expect(outputs).not.toMatch(new RegExp(`"Fn::GetAtt":\\["${apiKeyIds[0]}"`));
    // The webhook secret, likewise, only as the command that fetches it with IAM credentials.
    const { WebhookSecretCommand, ...others } = template.toJSON().Outputs;
    expect(JSON.stringify(WebhookSecretCommand)).toMatch(
      /aws secretsmanager get-secret-value --secret-id ser\//,
    );
    expect(JSON.stringify(others)).not.toMatch(/AKIA[0-9A-Z]{16}|secret|password/i);
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const variables =
        (fn.Properties.Environment as { Variables?: Record<string, unknown> })?.Variables ?? {};
      // Where the webhook secrets live (a Secrets Manager name prefix) is no secret; anything else named
      // like one is.
      const { WEBHOOK_SECRET_PREFIX: secretPrefix, ...rest } = variables;
      if (secretPrefix !== undefined) expect(String(secretPrefix)).toMatch(/^ser\/.+\/webhook\/$/);
      for (const name of Object.keys(rest)) expect(name).not.toMatch(/SECRET|PASSWORD|TOKEN|API_KEY/);
    }
  });

  it('deploys upload URLs that live 5 minutes (the default the API function gets)', () => {
    const api = ofType('AWS::Lambda::Function').find(([id]) => id.includes('ApiHandler'))![1];
    const variables = (api.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    // The literal settings as deployed; references to other resources (bucket, table, origin) stubbed.
    const literal = Object.entries(variables).filter(([, value]) => typeof value === 'string');
    const config = loadConfig({ ...Object.fromEntries(literal), BUCKET_NAME: 'bucket', TABLE_NAME: 'table' });
    expect(config.uploadUrlTtlSec).toBe(300);
    expect(() =>
      loadConfig({ BUCKET_NAME: 'bucket', TABLE_NAME: 'table', UPLOAD_URL_TTL_SEC: '86400' }),
    ).toThrow(/UPLOAD_URL_TTL_SEC/);
  });

  it('allows cross-origin calls from the web page origin only: API responses, preflight, gateway errors, S3', () => {
    const api = ofType('AWS::Lambda::Function').find(([id]) => id.includes('ApiHandler'))![1];
    const origin = (api.Properties.Environment as { Variables: Record<string, unknown> }).Variables
      .CORS_ALLOW_ORIGIN;
    expect(JSON.stringify(origin)).toMatch(
      /"https:\/\/",\{"Fn::GetAtt":\["WebDistribution\w+","DomainName"\]\}/,
    );

    const allowOrigins = [
      ...ofType('AWS::ApiGateway::Method').flatMap(([, m]) =>
        (
          (m.Properties.Integration as { IntegrationResponses?: { ResponseParameters?: object }[] })
            ?.IntegrationResponses ?? []
        ).map((r) => r.ResponseParameters),
      ),
      ...ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties.ResponseParameters),
      ...ofType('AWS::S3::Bucket').flatMap(([, b]) =>
        (
          (b.Properties.CorsConfiguration as { CorsRules?: { AllowedOrigins: unknown }[] })?.CorsRules ?? []
        ).map((rule) => rule.AllowedOrigins),
      ),
    ].filter(Boolean);
    expect(allowOrigins.length).toBeGreaterThan(5);
    for (const value of allowOrigins) expect(JSON.stringify(value)).not.toMatch(/"'?\*'?"/);
  });

  it('allows the origins a deployer adds (and refuses what is not an origin) in every CORS place', () => {
    const synthWith = (extraAllowedOrigins: string[]) =>
      synthStack(
        'SerOriginsTest',
        { modelDir: model.dir, extraAllowedOrigins },
        { validate: true },
      ).template.toJSON().Resources as Record<string, Resource>;
    const extra = synthWith(['https://app.example.com', 'http://localhost:5173']);
    const all = Object.values(extra);
    const api = all.find(
      (r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r).includes('CORS_ALLOW_ORIGIN'),
    )!;
    const env = JSON.stringify((api.Properties.Environment as { Variables: object }).Variables);
    const bucketRules = JSON.stringify(
      all.filter((r) => r.Type === 'AWS::S3::Bucket').map((b) => b.Properties.CorsConfiguration),
    );
    const preflights = JSON.stringify(
      all.filter((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod === 'OPTIONS'),
    );
    const gateway = all.filter((r) => r.Type === 'AWS::ApiGateway::GatewayResponse');

    for (const origin of ['https://app.example.com', 'http://localhost:5173']) {
      expect(env).toContain(`,${origin}`);
      expect(bucketRules).toContain(origin);
      expect(preflights).toContain(origin);
    }
    // A gateway refusal names the caller's origin when several are allowed (it cannot pick among them).
    for (const r of gateway)
      expect(r.Properties.ResponseParameters).toMatchObject({
        'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.origin',
      });
    for (const bad of ['*', 'https://app.example.com/path', 'app.example.com'])
      expect(() => synthWith([bad]), bad).toThrow(/not an origin/);
  });

  it('keeps data actions off wildcard resources, and every queue and bucket TLS-only', () => {
    const statements = ofType('AWS::IAM::Policy').flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    for (const s of statements) {
      const dataActions = asArray(s.Action).filter((a) => /^(s3|dynamodb|sqs|lambda|iam):/.test(a));
      if (dataActions.length > 0) expect(asArray(s.Resource), JSON.stringify(s)).not.toContain('*');
      // The one PassRole: the training launcher hands the training instance role to EC2, and nothing else.
      if (asArray(s.Action).includes('iam:PassRole')) {
        expect(s).toMatchObject({
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TrainingInstanceRole/), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
        });
      }
    }

    const tlsDenied = (policyType: string, targetKey: string) =>
      ofType(policyType).map(([, p]) => {
        const document = p.Properties.PolicyDocument as { Statement: Statement[] };
        expect(
          document.Statement.some(
            (s) =>
              s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('"aws:SecureTransport":"false"'),
          ),
        ).toBe(true);
        return JSON.stringify(p.Properties[targetKey]);
      });
    expect(tlsDenied('AWS::S3::BucketPolicy', 'Bucket')).toHaveLength(ofType('AWS::S3::Bucket').length);
    expect(tlsDenied('AWS::SQS::QueuePolicy', 'Queues')).toHaveLength(ofType('AWS::SQS::Queue').length);
  });

  it("SECURITY.md's least-privilege table lists exactly each role's actions in the template, and the table below it what speaker prefixes add", () => {
    // Table row → the role's logical id in the template.
    const ROLES: Record<string, RegExp> = {
      'API function': /^ApiApiHandlerServiceRole/,
      'inference function': /^InferenceProcessObjectServiceRole/,
      'dead-letter recorder': /^InferenceDeadLetterRecorderServiceRole/,
      'callback deliverer': /^CallbacksDeliverCallbackServiceRole/,
      'training instance': /^TrainingInstanceRole/,
      'training VPC flow logs': /^TrainingVpcFlowLogIAMRole/,
      'bundled-model registration (deploy-time custom resource)': /^TrainingRegisterBundledModelServiceRole/,
      "bundled-model registration's provider (aws-cdk-lib Provider framework, deploy time)":
        /^TrainingBundledModelProviderframeworkonEventServiceRole/,
      'bucket notifications (aws-cdk-lib, deploy time)': /^BucketNotificationsHandler/,
      'web page deployment (aws-cdk-lib BucketDeployment, deploy time)': /^CustomCDKBucketDeployment/,
      'site bucket auto-delete (aws-cdk-lib, stack deletion)':
        /^CustomS3AutoDeleteObjectsCustomResourceProviderRole/,
      'API Gateway account logging (aws-cdk-lib)': /^ApiRestApiCloudWatchRole/,
    };
    // Every role of the template has its row: a new function cannot slip in without one.
    for (const [id] of ofType('AWS::IAM::Role'))
      expect(
        Object.values(ROLES).some((pattern) => pattern.test(id)),
        id,
      ).toBe(true);
    const security = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8');
    const table = security
      .split('<!-- least-privilege:start -->')[1]!
      .split('<!-- least-privilege:end -->')[0]!;
    const documented = Object.fromEntries(
      table
        .split('\n')
        .filter((line) => line.startsWith('| ') && !line.startsWith('| role'))
        .map((line) => {
          const [, role, actions] = line.split('|').map((cell) => cell.trim());
          return [role!, [...new Set(actions!.match(/(?<=`)[a-z0-9-]+:[A-Za-z*]+(?=`)/g))].sort()];
        }),
    );
    const granted = (pattern: RegExp) =>
      [
        ...new Set(
          ofType('AWS::IAM::Policy')
            .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => pattern.test(r.Ref)))
            .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
            .flatMap((statement) => asArray(statement.Action)),
        ),
      ].sort();

    expect(Object.keys(documented).sort()).toEqual(Object.keys(ROLES).sort());
    for (const [role, pattern] of Object.entries(ROLES))
      expect(documented[role], role).toEqual(granted(pattern));

    // The table below it: what drop-folder speaker prefixes add, each of its actions granted then, and
    // every action they add to a role there.
    const withPrefixes = synthStack('SerSecurityPrefixesTest', {
      modelDir: model.dir,
      dropFolderSpeakerPrefixes: ['calls'],
    }).template.toJSON().Resources as Record<string, Resource>;
    const grantedWithPrefixes = (pattern: RegExp) =>
      new Set(
        Object.values(withPrefixes)
          .filter((r) => r.Type === 'AWS::IAM::Policy')
          .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => pattern.test(r.Ref)))
          .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
          .flatMap((statement) => asArray(statement.Action)),
      );
    const prefixTable = security.split('<!-- least-privilege:end -->')[1]!.split('\n\n| role')[1]!;
    const withPrefixRows = Object.fromEntries(
      prefixTable
        .split('\n\n')[0]!
        .split('\n')
        .filter((line) => line.startsWith('| ') && !line.startsWith('|---'))
        .map((line) => {
          const [, role, actions] = line.split('|').map((cell) => cell.trim());
          return [role!, [...new Set(actions!.match(/(?<=`)[a-z0-9-]+:[A-Za-z*]+(?=`)/g))]];
        }),
    );
    for (const [role, pattern] of Object.entries(ROLES)) {
      const added = [...grantedWithPrefixes(pattern)].filter((a) => !granted(pattern).includes(a));
      const listed = withPrefixRows[role] ?? [];
      for (const action of added) expect(listed, role).toContain(action);
      for (const action of listed)
        expect(grantedWithPrefixes(pattern).has(action), `${role} ${action}`).toBe(true);
    }
    expect(Object.keys(withPrefixRows).sort()).toEqual([
      'API function',
      'dead-letter recorder',
      'inference function',
    ]);
  });
});

describe('security: the local stack', () => {
  let stack: LocalStack;
  let local: TestStack;
  const createUpload = (headers: Record<string, string>) =>
    fetch(`${stack.apiUrl}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ fileName: 'clip.wav', sizeBytes: 1000 }),
    });

  const lines: string[] = [];

  beforeAll(async () => {
    local = await startTestStack({
      bucket: 'ser-security',
      apiKey: 'the-right-key-0123456789',
      log: (line) => lines.push(line),
    });
    ({ stack } = local);
  });
  afterAll(async () => {
    await local?.close();
  });

  it('refuses a missing, wrong, truncated, extended or differently cased API key; compares in constant time', async () => {
    const wrongKeys: Record<string, string>[] = [
      {},
      { 'x-api-key': '' },
      { 'x-api-key': 'the-wrong-key-0123456789' },
      { 'x-api-key': 'the-right-key-012345678' },
      { 'x-api-key': 'the-right-key-01234567890' },
      { 'x-api-key': 'THE-RIGHT-KEY-0123456789' },
      { 'X-Api-Key': 'wrong', authorization: 'Bearer the-right-key-0123456789' },
    ];
    const refused = await Promise.all(wrongKeys.map(async (headers) => (await createUpload(headers)).status));
    const accepted = await createUpload({ 'x-api-key': 'the-right-key-0123456789' });
    const health = await fetch(`${stack.apiUrl}/health`);

    expect(refused).toEqual(wrongKeys.map(() => 403));
    expect(accepted.status).toBe(201);
    expect(health.status).toBe(200);
    // The adapter hashes both keys and compares the digests with timingSafeEqual: no early exit on the
    // first differing byte, and no length leak.
    const adapter = readFileSync(join(ROOT, 'bin/local/api-adapter.ts'), 'utf8');
    expect(adapter).toMatch(/timingSafeEqual\(digest\(given\), digest\(expected\)\)/);
  });

  it('signs uploads for 5 minutes, one server-chosen key, the declared type and length', async () => {
    const response = await createUpload({ 'x-api-key': 'the-right-key-0123456789' });
    const { id, upload } = (await response.json()) as { id: string; upload: { url: string } };
    const url = new URL(upload.url);

    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(decodeURIComponent(url.pathname)).toBe(`/${stack.bucket}/${uploadKey(id, 'clip.wav')}`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type', 'host']),
    );
    expect(upload.url).not.toMatch(/x-amz-checksum|X-Amz-Security-Token=.*S3RVER/i);
  });

  it('logs the file names and keys clients chose with their control characters escaped (C0, DEL, C1)', async () => {
    // Prepare: an API upload and a drop-folder object whose names would recolour, retitle or clear a terminal.
    const clip = tessClip('neutral').bytes;
    const fileName = '\u001b[31mred\u009b2J\u007f.flac';
    const created = await fetch(`${stack.apiUrl}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'the-right-key-0123456789' },
      body: JSON.stringify({ fileName, sizeBytes: clip.length }),
    });
    const { id, upload } = (await created.json()) as {
      id: string;
      upload: { url: string; headers: Record<string, string> };
    };

    // Act
    await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: clip });
    await local.s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'incoming/titles/\u001b]0;pwned\u0007.flac',
        Body: clip,
      }),
    );
    await stack.idle();

    // Assess
    const processed = lines.filter((line) => line.startsWith('processed '));
    expect(processed.find((line) => line.includes(id))).toContain('\\u001b[31mred\\u009b2J\\u007f.flac');
    expect(processed.some((line) => line.includes('\\u001b]0;pwned\\u0007'))).toBe(true);
    // No line holds a control character (printable would change it).
    expect(lines.filter((line) => printable(line) !== line)).toEqual([]);
  });

  describe('the local S3 is a private bucket', () => {
    type Form = Record<string, string>;
    const evil = 'http://evil.example';
    /** A presigned POST form from the API (no declared size), as the web page gets one. */
    const createFormUpload = async () => {
      const response = await fetch(`${stack.apiUrl}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'the-right-key-0123456789' },
        body: JSON.stringify({ fileName: 'clip.flac' }),
      });
      return (await response.json()) as { id: string; upload: { url: string; fields: Form } };
    };
    const postForm = async (url: string, fields: Form, file: Buffer, origin?: string) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('file', new Blob([file]), 'clip.flac');
      const response = await fetch(url, { method: 'POST', body: form, headers: origin ? { origin } : {} });
      const text = await response.text();
      return {
        status: response.status,
        code: /<Code>(.*?)<\/Code>/.exec(text)?.[1],
        message: /<Message>(.*?)<\/Message>/.exec(text)?.[1],
        allowOrigin: response.headers.get('access-control-allow-origin'),
      };
    };
    const exists = (key: string) =>
      local.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key })).then(
        () => true,
        () => false,
      );

    it('refuses a form POST that is unsigned, from another page, or outside its signed policy', async () => {
      // Prepare
      const clip = tessClip('happy').bytes;
      const { upload } = await createFormUpload();
      const signed = upload.fields;
      const bucketUrl = `${stack.s3Endpoint}/${stack.bucket}`;
      const forged = { key: 'results/batch-7/clip.flac.json', 'Content-Type': 'application/json' };
      const expired = await createPresignedPost(local.s3, {
        Bucket: stack.bucket,
        Key: signed.key!,
        Fields: { 'Content-Type': 'audio/flac' },
        Expires: -60,
      });
      const tiny = await createPresignedPost(local.s3, {
        Bucket: stack.bucket,
        Key: signed.key!,
        Conditions: [['content-length-range', 1, 1000]],
      });

      // Act
      const refused = await Promise.all([
        postForm(bucketUrl, forged, Buffer.from('{"emotion":"happy"}')),
        postForm(bucketUrl, { key: 'incoming/x.flac' }, clip, evil),
        postForm(upload.url, signed, clip, evil),
        postForm(upload.url, { ...signed, key: 'incoming/x.flac' }, clip),
        postForm(upload.url, { ...signed, 'Content-Type': 'application/json' }, clip),
        postForm(upload.url, { ...signed, 'X-Amz-Signature': '0'.repeat(64) }, clip),
        postForm(upload.url, { ...signed, 'x-amz-meta-owner': 'me' }, clip),
        postForm(expired.url, expired.fields, clip),
        postForm(upload.url, signed, Buffer.alloc(0), stack.apiUrl),
        postForm(tiny.url, tiny.fields, clip),
        postForm(bucketUrl, { key: 'incoming/x.flac', padding: 'x'.repeat(100_000) }, clip),
      ]);

      // Assess
      expect(refused.map(({ status, code }) => `${status} ${code}`)).toEqual([
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 AccessDenied',
        '403 SignatureDoesNotMatch',
        '403 AccessDenied',
        '403 AccessDenied',
        '400 EntityTooSmall',
        '400 EntityTooLarge',
        '400 MaxPostPreDataLengthExceeded',
      ]);
      expect(refused[3]?.message).toBe(
        `Invalid according to Policy: Policy Condition failed: ["eq", "$key", "${signed.key}"]`,
      );
      expect(refused[6]?.message).toBe('Invalid according to Policy: Extra input fields: x-amz-meta-owner');
      expect(refused[7]?.message).toBe('Invalid according to Policy: Policy expired.');
      // The web page reads why it was refused (S3 applies CORS to errors); another page learns nothing.
      expect(refused[8]?.allowOrigin).toBe(stack.apiUrl);
      expect(refused[2]?.allowOrigin).toBeNull();
      for (const key of [forged.key, 'incoming/x.flac', signed.key!])
        expect(await exists(key), key).toBe(false);
    });

    it("accepts the API's presigned form from the web page, and refuses anonymous reads and listings", async () => {
      // Prepare
      const { id, upload } = await createFormUpload();
      const key = upload.fields.key!;

      // Act
      const posted = await postForm(upload.url, upload.fields, tessClip('sad').bytes, stack.apiUrl);
      const anonymous = await Promise.all(
        [`${stack.bucket}/${key}`, stack.bucket, `${stack.bucket}?list-type=2`, ''].map(async (path) => {
          const [get, head] = await Promise.all([
            fetch(`${stack.s3Endpoint}/${path}`),
            fetch(`${stack.s3Endpoint}/${path}`, { method: 'HEAD' }),
          ]);
          return [get.status, head.status];
        }),
      );
      const read = await local.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      await stack.idle();
      const prediction = await fetch(`${stack.apiUrl}/predictions/${id}`, {
        headers: { 'x-api-key': 'the-right-key-0123456789' },
      });

      // Assess
      expect(posted).toMatchObject({ status: 204, allowOrigin: stack.apiUrl });
      expect(anonymous.flat()).toEqual(Array(8).fill(403));
      expect(read.ContentLength).toBe(tessClip('sad').bytes.length);
      expect(await prediction.json()).toMatchObject({ status: 'SUCCEEDED', emotion: 'sad' });
    });
  });
});

describe('security: object keys and the repository', () => {
  it('turns any client file name into one safe path segment', () => {
    const nasty = [
      '../../etc/passwd',
      '..\\..\\boot.ini',
      '/absolute/path.wav',
      '....//....//x.wav',
      '.hidden.wav',
      '..',
      '',
      'a/b/c/../../d.wav',
      'CON.wav',
      'name\u0000.wav',
      'résumé 日本語 😀.flac',
      'x'.repeat(1000),
      '%2e%2e%2f%2e%2e%2fx.wav',
      'clip.wav\r\nX-Injected: 1',
      '<script>alert(1)</script>.mp3',
    ];
    for (const name of nasty) {
      const safe = sanitizeFileName(name);
      expect(safe, name).toMatch(/^[\w-][\w.-]*$/);
      expect(safe.length).toBeLessThanOrEqual(120);
      const key = uploadKey('0b6f3c2e-9a4d-4d0e-8f7a-1c2b3d4e5f60', name);
      expect(key.split('/')).toHaveLength(3);
      expect(key.split('/')).not.toContain('..');
    }
    // Names in other scripts keep their extension; accents are dropped, not turned into "_".
    expect(sanitizeFileName('音声.wav')).toBe('audio.wav');
    expect(sanitizeFileName('résumé.flac')).toBe('resume.flac');
    expect(sanitizeFileName('.wav')).toBe('audio.wav');
  });

  it('holds no credentials in tracked files (only the local s3rver account, which is public)', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && !f.startsWith('test/fixtures/') && !f.endsWith('package-lock.json'))
      .filter((f) => !/\.(png|jpg|onnx|flac|wav|mp3|ogg|opus|bin|wasm)$/.test(f));
    const patterns = [
      /AKIA[0-9A-Z]{16}/,
      /-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----/,
      /aws_secret_access_key\s*[=:]\s*['"]?[A-Za-z0-9/+]{40}/i,
      /xox[baprs]-[0-9A-Za-z-]{10,}/,
      /gh[pousr]_[0-9A-Za-z]{36}/,
    ];
    const hits: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(ROOT, file), 'utf8');
      } catch {
        continue;
      }
      for (const pattern of patterns) if (pattern.test(text)) hits.push(`${file}: ${pattern}`);
    }
    expect(files.length).toBeGreaterThan(50);
    expect(hits).toEqual([]);
  });
});
