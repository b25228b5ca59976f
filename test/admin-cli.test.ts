import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRegion } from '../bin/admin/admin-client.ts';
import { sigV4Fetch } from '../bin/admin/sigv4-fetch.ts';
import { tessFixtures } from './helpers/fixtures.ts';
import { droppedRecordId, startTestStack, type TestStack } from './helpers/local-stack.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The environment of a child `ser`: no admin key or AWS settings of the machine's, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    ([name]) => !name.startsWith('AWS_') && name !== 'SER_ADMIN_KEY' && name !== 'SER_API_URL',
  );
  return {
    ...Object.fromEntries(inherited),
    // No credentials or config files of this machine's: the chain must take the environment's.
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  };
}

/** `ser admin …` as an operator runs it: a separate process; the exit code comes back, not thrown. */
async function serAdmin(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/ser.js', 'admin', ...args], {
      cwd: ROOT,
      env: childEnv(env),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { id: string; speakerId?: string; source: string });

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A GET /training-jobs/{id} answer of a scripted job, or the API failing that request. */
type JobAnswer = Record<string, unknown> | 'HTTP 500';

/**
 * A stand-in for API Gateway that records each request and answers the two speaker routes: the listing
 * in two pages (the first one's cursor needs escaping); the erase `done` at once, with `more` for ever,
 * or with `more` twice and then a 500. GET /training-jobs/{id} answers `jobScript` one entry a request,
 * its last one from then on.
 */
async function recordingServer(
  erase: 'done' | 'more' | 'fails-third',
  jobScript: JobAnswer[] = [],
): Promise<{ server: Server; url: string; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const url = new URL(req.url ?? '/', 'http://x');
    const erases = seen.filter((r) => r.method === 'DELETE').length;
    if (req.method === 'DELETE' && erase === 'fails-third' && erases === 3) {
      const error = { error: { code: 'INTERNAL_ERROR', message: 'boom' } };
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(error));
      return;
    }
    const jobReads = seen.filter((r) => r.url.startsWith('/training-jobs/')).length;
    const scripted = url.pathname.startsWith('/training-jobs/')
      ? jobScript[Math.min(jobReads, jobScript.length) - 1]
      : undefined;
    if (scripted === 'HTTP 500') {
      const error = { error: { code: 'INTERNAL_ERROR', message: 'boom' } };
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(error));
      return;
    }
    const answer =
      scripted ??
      (req.method === 'POST'
        ? { id: 'job-1', status: 'QUEUED' }
        : req.method === 'DELETE'
          ? { speakerId: 'agent-7', erased: true, recordsDeleted: 25, more: erase !== 'done' }
          : url.searchParams.has('cursor') && !url.pathname.includes('/stuck/')
            ? { items: [{ id: 'second' }] }
            : // Speaker "stuck": a faulty API that hands the same cursor back for ever.
              { items: [{ id: 'first' }], nextCursor: 'c/1+=' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const sha256Hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The signature AWS would compute for the request as it arrived (AWS's SigV4 steps written out, apart
 * from the code under test): it matches only if the path, query and signed headers reached the server
 * as they were signed.
 */
function expectedSignature(request: Recorded, secret: string, scope: string): string {
  const url = new URL(request.url, 'http://x');
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))![1]!;
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
    .join('');
  const query = [...url.searchParams]
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .sort()
    .join('&');
  const path = url.pathname.split('/').map(rfc3986).join('/');
  const canonical = [
    request.method,
    path,
    query,
    canonicalHeaders,
    signedHeaders,
    sha256Hex(request.body),
  ].join('\n');
  const amzDate = String(request.headers['x-amz-date']);
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const [date, region, service] = scope.split('/') as [string, string, string];
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('ser admin: the credential it sends', () => {
  const AWS = {
    AWS_ACCESS_KEY_ID: 'AKIDADMINTEST',
    AWS_SECRET_ACCESS_KEY: 'admin-test-secret',
    AWS_REGION: 'eu-west-3',
  };
  let fake: Awaited<ReturnType<typeof recordingServer>>;
  let endless: Awaited<ReturnType<typeof recordingServer>>;
  let failing: Awaited<ReturnType<typeof recordingServer>>;

  beforeAll(async () => {
    fake = await recordingServer('done');
    endless = await recordingServer('more');
    failing = await recordingServer('fails-third');
  });
  afterAll(async () => {
    const closed = (server: Server | undefined) =>
      new Promise<unknown>((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await Promise.all([closed(fake?.server), closed(endless?.server), closed(failing?.server)]);
  });

  it('without --admin-key, signs every request with SigV4 for execute-api (credentials from the environment)', async () => {
    fake.seen.length = 0;
    // An id that must be percent-encoded in the path, which SigV4 then encodes once more.
    const result = await serAdmin(['speaker-records', 'agent 7?#%', '--api', `${fake.url}/v1/`], AWS);
    expect(result.stderr).toBe('2 records of drop-folder speaker agent 7?#%\n');
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).map((r) => r.id)).toEqual(['first', 'second']);
    // Both pages, the second with the first one's cursor, each signed.
    expect(fake.seen.map((r) => r.url)).toEqual([
      '/v1/drop-folder/speakers/agent%207%3F%23%25/predictions',
      '/v1/drop-folder/speakers/agent%207%3F%23%25/predictions?cursor=c%2F1%2B%3D',
    ]);
    for (const request of fake.seen) {
      const date = String(request.headers['x-amz-date']);
      expect(date).toMatch(/^\d{8}T\d{6}Z$/);
      const scope = `${date.slice(0, 8)}/eu-west-3/execute-api/aws4_request`;
      const authorization = String(request.headers.authorization);
      expect(authorization.startsWith(`AWS4-HMAC-SHA256 Credential=AKIDADMINTEST/${scope}`)).toBe(true);
      expect(authorization).toMatch(/SignedHeaders=[^,]*host/);
      const signature = /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1];
      expect(signature).toBe(expectedSignature(request, AWS.AWS_SECRET_ACCESS_KEY, scope));
      expect(request.headers['x-api-key']).toBeUndefined();
    }
  });

  it('signs a request with a body (POST /training-jobs) over that body', async () => {
    fake.seen.length = 0;
    const result = await serAdmin(['train', '--api', fake.url, '--epochs', '3', '--activate', 'never'], AWS);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ id: 'job-1', status: 'QUEUED' });
    const [request] = fake.seen;
    expect(JSON.parse(request!.body)).toEqual({
      dataset: 'datasets/tess/',
      epochs: 3,
      augment: false,
      activate: 'never',
    });
    const date = String(request!.headers['x-amz-date']);
    const scope = `${date.slice(0, 8)}/eu-west-3/execute-api/aws4_request`;
    const signature = /Signature=([0-9a-f]{64})$/.exec(String(request!.headers.authorization))?.[1];
    expect(signature).toBe(expectedSignature(request!, AWS.AWS_SECRET_ACCESS_KEY, scope));
  });

  it('speaker-records stops with exit 1 when the API hands the same cursor back, instead of paging for ever', async () => {
    const result = await serAdmin(['speaker-records', 'stuck', '--api', fake.url, '--admin-key', 'k']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('the same cursor came back twice');
  });

  it('signs a query that names a key twice over both its values', async () => {
    fake.seen.length = 0;
    const saved = { ...process.env };
    Object.assign(process.env, AWS, {
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    });
    try {
      await sigV4Fetch('eu-west-3')(new Request(`${fake.url}/models?tag=b&tag=a&limit=2`));
    } finally {
      process.env = saved;
    }
    const [request] = fake.seen;
    expect(request!.url).toBe('/models?tag=b&tag=a&limit=2');
    const date = String(request!.headers['x-amz-date']);
    const scope = `${date.slice(0, 8)}/eu-west-3/execute-api/aws4_request`;
    const signature = /Signature=([0-9a-f]{64})$/.exec(String(request!.headers.authorization))?.[1];
    expect(signature).toBe(expectedSignature(request!, AWS.AWS_SECRET_ACCESS_KEY, scope));
  });

  it("signs for the region an execute-api URL names, unless --region says otherwise; else the environment's", () => {
    const api = 'https://abc123.execute-api.ap-southeast-2.amazonaws.com/prod/';
    expect(apiRegion(api, undefined, { AWS_REGION: 'eu-west-3' })).toBe('ap-southeast-2');
    expect(apiRegion(api, 'us-west-2', { AWS_REGION: 'eu-west-3' })).toBe('us-west-2');
    const custom = 'https://ser.example.com/';
    expect(apiRegion(custom, undefined, { AWS_REGION: 'eu-west-3' })).toBe('eu-west-3');
    expect(apiRegion(custom, undefined, { AWS_DEFAULT_REGION: 'sa-east-1' })).toBe('sa-east-1');
    expect(apiRegion(custom, undefined, {})).toBe('us-east-1');
  });

  it('--region wins over AWS_REGION; a DELETE is signed too, and an empty SER_ADMIN_KEY counts as none', async () => {
    fake.seen.length = 0;
    const env = { ...AWS, SER_ADMIN_KEY: '' };
    const result = await serAdmin(
      ['erase-speaker', 'agent-7', '--api', fake.url, '--region', 'ap-south-2'],
      env,
    );
    expect(result.code).toBe(0);
    expect(fake.seen.map((r) => r.method)).toEqual(['DELETE']);
    expect(String(fake.seen[0]!.headers.authorization)).toContain('/ap-south-2/execute-api/aws4_request');
    expect(fake.seen[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('with --admin-key (or SER_ADMIN_KEY), sends it as x-api-key and signs nothing', async () => {
    for (const [args, env] of [
      [['--admin-key', 'the-admin-key'], AWS],
      [[], { ...AWS, SER_ADMIN_KEY: 'the-admin-key' }],
    ] as const) {
      fake.seen.length = 0;
      const result = await serAdmin(['speaker-records', 'agent-7', '--api', fake.url, ...args], env);
      expect(result.code).toBe(0);
      expect(fake.seen).toHaveLength(2);
      for (const request of fake.seen) {
        expect(request.headers['x-api-key']).toBe('the-admin-key');
        expect(request.headers.authorization).toBeUndefined();
        expect(request.headers['x-amz-date']).toBeUndefined();
      }
    }
  });

  it('erase-speaker stops after --max-calls while records remain: the totals, and exit code 1', async () => {
    const result = await serAdmin(
      ['erase-speaker', 'agent-7', '--api', endless.url, '--max-calls', '3', '--wait', '0.01'],
      AWS,
    );
    expect(result.code).toBe(1);
    expect(endless.seen).toHaveLength(3);
    expect(JSON.parse(result.stdout)).toEqual({
      speakerId: 'agent-7',
      erased: true,
      recordsDeleted: 75,
      more: true,
      calls: 3,
    });
    expect(result.stderr).toMatch(/^ser admin erase-speaker: records of agent-7 remain after 3 calls.*\n$/);
  });

  it('erase-speaker: a call that fails is exit code 1 and one line saying how far the erasure got', async () => {
    const result = await serAdmin(['erase-speaker', 'agent-7', '--api', failing.url, '--wait', '0.01'], AWS);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'ser admin erase-speaker: DELETE /drop-folder/speakers/agent-7: HTTP 500 INTERNAL_ERROR: boom ' +
        '(after 2 calls, 50 records deleted)\n',
    });
  });

  it('no credentials anywhere: exit code 1, one line saying so, and nothing sent', async () => {
    fake.seen.length = 0;
    const result = await serAdmin(['speaker-records', 'agent-7', '--api', fake.url], {});
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^ser admin speaker-records: .*credentials/i);
    expect(fake.seen).toEqual([]);
  });
});

describe('ser admin train / job --wait: follows a training job to its end', () => {
  const CREATED = '2026-12-07T10:00:00.000Z';
  const job = (status: string, extra: Record<string, unknown> = {}) => ({
    id: 'job-1',
    status,
    dataset: 'datasets/tess/',
    epochs: 3,
    augment: false,
    activate: 'never',
    createdAt: CREATED,
    updatedAt: CREATED,
    ...extra,
  });
  const progress = (epoch: number, valAccuracy: number) => ({
    progress: { epoch, epochs: 3, valAccuracy, member: 1, members: 1 },
  });
  const SUCCEEDED = job('SUCCEEDED', { ...progress(3, 0.75), modelVersion: '1.4.0', activated: false });
  const FAILED = job('FAILED', { ...progress(1, 0.25), error: 'the training machine ran out of memory' });
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));
  async function scripted(script: JobAnswer[]) {
    const fake = await recordingServer('done', script);
    servers.push(fake.server);
    return fake;
  }
  const waitArgs = (url: string) => ['--api', url, '--admin-key', 'k', '--wait', '--poll', '0.05'];

  it('train --wait: queues, shows each status or progress change on stderr (no TTY), prints the SUCCEEDED job, exit code 0', async () => {
    const fake = await scripted([
      job('QUEUED'),
      job('RUNNING'),
      job('RUNNING', progress(1, 0.5)),
      job('RUNNING', progress(1, 0.5)), // no change: no line
      job('RUNNING', progress(2, 0.625)),
      SUCCEEDED,
    ]);
    const result = await serAdmin(['train', '--epochs', '3', ...waitArgs(fake.url)]);
    expect(result.stderr.split('\n')).toEqual([
      'job-1: QUEUED',
      'job-1: RUNNING',
      'job-1: RUNNING epoch 1/3 (member 1/1), validation accuracy 0.500',
      'job-1: RUNNING epoch 2/3 (member 1/1), validation accuracy 0.625',
      'job-1: SUCCEEDED epoch 3/3 (member 1/1), validation accuracy 0.750',
      '',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(SUCCEEDED);
    expect(fake.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /training-jobs',
      ...Array<string>(6).fill('GET /training-jobs/job-1'),
    ]);
  });

  it('job <id> --wait: a job that ends FAILED is printed, its error on stderr, exit code 1', async () => {
    const fake = await scripted([job('RUNNING', progress(1, 0.25)), FAILED]);
    const result = await serAdmin(['job', 'job-1', ...waitArgs(fake.url)]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual(FAILED);
    expect(result.stderr.split('\n')).toEqual([
      'job-1: RUNNING epoch 1/3 (member 1/1), validation accuracy 0.250',
      'job-1: FAILED epoch 1/3 (member 1/1), validation accuracy 0.250',
      'ser admin job: job job-1 FAILED: the training machine ran out of memory',
      '',
    ]);
    expect(fake.seen.every((r) => r.method === 'GET')).toBe(true);
  });

  it('before the first epoch no validation accuracy is shown, also for an older record holding 0 there', async () => {
    const older = job('RUNNING', { progress: { epoch: 0, epochs: 3, valAccuracy: 0 } });
    const fake = await scripted([
      older,
      job('RUNNING', { progress: { epoch: 0, epochs: 3 } }), // the same state: no new line
      job('RUNNING', progress(1, 0.5)),
      SUCCEEDED,
    ]);
    const result = await serAdmin(['job', 'job-1', ...waitArgs(fake.url)]);
    expect(result.stderr.split('\n')).toEqual([
      'job-1: RUNNING epoch 0/3, preparing the dataset, no validation accuracy yet',
      'job-1: RUNNING epoch 1/3 (member 1/1), validation accuracy 0.500',
      'job-1: SUCCEEDED epoch 3/3 (member 1/1), validation accuracy 0.750',
      '',
    ]);
    expect(result.code).toBe(0);
  });

  it('a request failing while waiting is exit code 1, no output, and one line saying how to resume', async () => {
    const fake = await scripted([job('RUNNING'), 'HTTP 500']);
    const result = await serAdmin(['job', 'job-1', ...waitArgs(fake.url)]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'job-1: RUNNING\nser admin job: GET /training-jobs/job-1: HTTP 500 INTERNAL_ERROR: boom ' +
        '(the job goes on; follow it again with ser admin job job-1 --wait)\n',
    });
  });

  it("--timeout: still running after it is exit code 1, the job's last state printed", async () => {
    const fake = await scripted([job('RUNNING', progress(2, 0.5))]);
    const result = await serAdmin(['job', 'job-1', ...waitArgs(fake.url), '--timeout', '0.005']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual(job('RUNNING', progress(2, 0.5)));
    expect(fake.seen.length).toBeGreaterThan(1);
    expect(result.stderr).toMatch(
      /\nser admin job: job job-1 is still RUNNING after 0\.005 min; the job goes on; follow it again with ser admin job job-1 --wait\n$/,
    );
  });

  it('--poll or --timeout without --wait waits (they imply it) instead of being ignored', async () => {
    const fake = await scripted([job('RUNNING'), SUCCEEDED]);
    const result = await serAdmin(['job', 'job-1', '--api', fake.url, '--admin-key', 'k', '--poll', '0.05']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(SUCCEEDED);
    expect(fake.seen.length).toBe(2);
    const timed = await scripted([job('RUNNING', progress(2, 0.5))]);
    const stopped = await serAdmin([
      'job',
      'job-1',
      '--api',
      timed.url,
      '--admin-key',
      'k',
      '--timeout',
      '0.0001',
    ]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/is still RUNNING after 0\.0001 min/);
  });

  it('Ctrl-C stops the wait (not the job): exit code 130, nothing on stdout, and how to resume', async () => {
    const fake = await scripted([job('RUNNING')]);
    const child = spawn(process.execPath, ['bin/ser.js', 'admin', 'job', 'job-1', ...waitArgs(fake.url)], {
      cwd: ROOT,
      env: childEnv({}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    // Interrupted once it has shown the job (its SIGINT handler is in place by then); or it ended early.
    const firstLine = new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
        if (stderr.includes('\n')) resolve();
      });
      child.once('close', () => resolve());
    });
    await firstLine;
    child.kill('SIGINT');
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code).toBe(130);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'job-1: RUNNING\nser admin job: stopped waiting for job job-1; the job goes on; follow it again with ser admin job job-1 --wait\n',
    );
    // The job itself was only ever read.
    expect(fake.seen.every((r) => r.method === 'GET')).toBe(true);
  });
});

describe('ser admin --wait, signed: Ctrl-C during a request', () => {
  it('aborts the signed request in flight (exit 130), as it does an unsigned one', async () => {
    // An API that takes the request and never answers.
    let received = () => {};
    const arrived = new Promise<void>((resolve) => {
      received = resolve;
    });
    const server = createServer(() => received());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDADMINTEST',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-3',
    };
    const child = spawn(process.execPath, ['bin/ser.js', 'admin', 'job', 'job-1', '--wait', '--api', url], {
      cwd: ROOT,
      env: childEnv(env),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    try {
      await arrived;
      child.kill('SIGINT');
      const [code] = (await once(child, 'close')) as [number | null];
      expect(code).toBe(130);
      expect(stderr).toContain('stopped waiting for job job-1');
    } finally {
      child.kill('SIGKILL');
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('ser admin against the local stack: a drop-folder speaker listed page by page, then erased', () => {
  let local: TestStack;
  const clip = readFileSync(tessFixtures()[0]!.path);
  /** agent-9's records, newest first. */
  const dropped: string[] = [];
  const api = () => ['--api', local.stack.apiUrl, '--admin-key', `${local.stack.apiKey}-admin`];

  const drop = (path: string) => droppedRecordId(local, path, clip);

  beforeAll(async () => {
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls,meetings';
    local = await startTestStack({ bucket: 'ser-admin-cli', apiKey: 'admin-cli-key' });
    for (const path of ['calls/agent-9/a.flac', 'meetings/agent-9/b.flac', 'calls/agent-9/c.flac'])
      dropped.unshift(await drop(path));
    await drop('calls/agent-10/d.flac'); // another speaker's, which neither command may touch
  }, 120_000);

  afterAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    await local?.close();
  });

  it('speaker-records follows the cursor through every page (--limit 1): all the records, newest first', async () => {
    const result = await serAdmin(['speaker-records', 'agent-9', '--limit', '1', ...api()]);
    expect(result.code).toBe(0);
    const records = jsonLines(result.stdout);
    expect(records.map((r) => r.id)).toEqual(dropped);
    expect(records.map((r) => [r.speakerId, r.source])).toEqual(
      dropped.map(() => ['agent-9', 'drop-folder']),
    );
    expect(result.stderr).toBe('3 records of drop-folder speaker agent-9\n');
  });

  it("a wrong admin key (or the user key) is the API's 403 in one line, exit code 1, no output", async () => {
    for (const key of ['wrong', local.stack.apiKey]) {
      for (const command of ['speaker-records', 'erase-speaker']) {
        const result = await serAdmin([command, 'agent-9', '--api', local.stack.apiUrl, '--admin-key', key]);
        expect(result.code, `${command} ${key}`).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toMatch(
          new RegExp(`^ser admin ${command}: .*HTTP 403 FORBIDDEN: Forbidden.*\\n$`),
        );
      }
    }
  });

  it('a missing or invalid speaker id, or no --api, is a usage error (exit code 2) before any request', async () => {
    for (const args of [
      ['speaker-records', ...api()],
      ['erase-speaker', ...api()],
      ['erase-speaker', ' agent-9', ...api()],
      ['speaker-records', 'agent-9', '--admin-key', 'k'],
    ]) {
      const result = await serAdmin(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
    }
    expect((await serAdmin(['speaker-records', 'agent-9', ...api()])).stdout).not.toBe('');
  });

  it('models lists the registry; activate puts a version in service, an unknown one is 404 (exit code 1)', async () => {
    const bundled = local.stack.modelVersion;
    const models = await serAdmin(['models', ...api()]);
    expect(models.code).toBe(0);
    const items = models.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { version: string; active: boolean });
    expect(items.map((m) => [m.version, m.active])).toEqual([[bundled, true]]);

    const activated = await serAdmin(['activate', bundled, ...api()]);
    expect(activated.code).toBe(0);
    expect(JSON.parse(activated.stdout)).toMatchObject({ active: bundled, previousVersion: bundled });
    const unknown = await serAdmin(['activate', '9.9.9', ...api()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^ser admin activate: POST \/models\/9\.9\.9\/activate: HTTP 404 NOT_FOUND/,
    );
  });

  it("train sends the options (an empty dataset is the API's 400, exit code 1); jobs and job read the jobs", async () => {
    const empty = await serAdmin(['train', '--dataset', 'datasets/none/', '--epochs', '2', ...api()]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(
      /^ser admin train: POST \/training-jobs: HTTP 400 DATASET_EMPTY: .*s3:\/\/ser-admin-cli\/datasets\/none\//,
    );
    for (const bad of [
      ['--epochs', '201'],
      ['--dataset', 'tess/'],
      ['--activate', 'sometimes'],
    ]) {
      const refused = await serAdmin(['train', ...bad, ...api()]);
      expect(refused.code, bad.join(' ')).toBe(2);
    }
    const jobs = await serAdmin(['jobs', ...api()]);
    expect(jobs).toMatchObject({ code: 0, stdout: '' });
    const job = await serAdmin(['job', 'no-such-job', ...api()]);
    expect(job.code).toBe(1);
    expect(job.stderr).toMatch(/^ser admin job: GET \/training-jobs\/no-such-job: HTTP 404/);
  });

  it('erase-speaker erases them all (records, audio, result files) and prints the totals; the listing is then empty', async () => {
    const result = await serAdmin(['erase-speaker', 'agent-9', ...api()]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ speakerId: 'agent-9', recordsDeleted: 3, more: false });
    const after = await serAdmin(['speaker-records', 'agent-9', ...api()]);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe('');
    expect(after.stderr).toBe('0 records of drop-folder speaker agent-9\n');
    const { s3, stack } = local;
    await expect(
      s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'results/calls/agent-9/a.flac.json' })),
    ).rejects.toThrow();
    // The other speaker is untouched.
    const other = await serAdmin(['speaker-records', 'agent-10', ...api()]);
    expect(jsonLines(other.stdout)).toHaveLength(1);
  });
});
