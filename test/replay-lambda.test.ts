import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaInvoker } from '../bin/replay.ts';

/**
 * `ser replay --function-name` against Lambda's Invoke API on the wire (a local endpoint that answers as
 * Lambda does: 200 with X-Amz-Function-Error and the error document), through the real SDK client.
 */
describe('ser replay against a deployed function', () => {
  let server: Server;
  let endpoint: string;
  const invocations: { type: string; body: string }[] = [];
  let answers: { functionError?: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      invocations.push({ type: String(req.headers['x-amz-invocation-type']), body });
      if (req.headers['x-amz-invocation-type'] === 'Event') {
        res.writeHead(202).end();
        return;
      }
      const answer = answers.shift()!;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(answer.functionError ? { 'x-amz-function-error': answer.functionError } : {}),
      });
      res.end(answer.body);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const invoker = () =>
    lambdaInvoker(
      new LambdaClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'k', secretAccessKey: 's' },
        maxAttempts: 1,
      }),
      'process-object',
    );

  it('hands a run the runtime killed to the asynchronous path, so its record still ends FAILED', async () => {
    invocations.length = 0;
    answers = [
      {
        functionError: 'Unhandled',
        body: '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 60.00 seconds"}',
      },
    ];
    const event = { Records: [{ eventName: 'ObjectCreated:Put' }] };

    await expect(invoker()(event)).rejects.toThrow(/Sandbox\.Timedout.*asynchronous retries/);
    expect(invocations.map((i) => i.type)).toEqual(['RequestResponse', 'Event']);
    expect(JSON.parse(invocations[1]!.body)).toEqual(event);
  });

  it('leaves an error its handler caught (the record is ended by it) and a success alone', async () => {
    invocations.length = 0;
    answers = [
      { functionError: 'Unhandled', body: '{"errorType":"ClaimHeldError","errorMessage":"held"}' },
      // A broken deployment: retrying cannot help, and nothing was claimed.
      { functionError: 'Unhandled', body: '{"errorType":"Runtime.ImportModuleError","errorMessage":"x"}' },
      { body: '{"outcome":"succeeded"}' },
    ];

    await expect(invoker()({})).rejects.toThrow(/ClaimHeldError/);
    await expect(invoker()({})).rejects.toThrow(/ImportModuleError/);
    expect(await invoker()({})).toEqual({ outcome: 'succeeded' });
    expect(invocations.map((i) => i.type)).toEqual(['RequestResponse', 'RequestResponse', 'RequestResponse']);
  });
});
