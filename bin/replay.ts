import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { markedAsReplay } from '../lambdas/app/dead-letter.ts';
import { EVENT_SOURCE } from '../lambdas/app/prediction-events.ts';
import { parseS3Event } from '../lambdas/app/s3-event.ts';

/**
 * What Lambda's on-failure destination puts on the dead-letter queue after the last retry of an
 * asynchronous invocation (see lib/constructs/inference.ts): the original event is `requestPayload`.
 * The local stack writes the same record to `<data folder>/dlq/*.json`, so one replay serves both.
 */
export interface DeadLetterRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError: 'Unhandled' };
  responsePayload: { errorType: string; errorMessage: string };
}

export function deadLetterRecord(
  event: unknown,
  error: unknown,
  attempts: number,
  functionArn = 'arn:aws:lambda:local:000000000000:function:process-object',
): DeadLetterRecord {
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: randomUUID(),
      functionArn,
      condition: 'RetriesExhausted',
      approximateInvokeCount: attempts,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: error instanceof Error ? error.name : 'Error',
      errorMessage: error instanceof Error ? error.message : String(error),
    },
  };
}

/**
 * The S3 event inside a dead-lettered message: an on-failure destination record (`requestPayload`),
 * or the bare event (a function-level DLQ stores the event itself). Anything else is refused here,
 * before it reaches the function, because replaying it could never succeed.
 */
export function eventFromDeadLetter(message: unknown): { Records: unknown[] } {
  const candidate = payloadOf(message);
  if (parseS3Event(candidate).length === 0) {
    throw new Error('the message holds no S3 ObjectCreated record to replay');
  }
  return candidate as { Records: unknown[] };
}

/** The event a dead-letter message holds: an on-failure record's `requestPayload`, or the bare event. */
function payloadOf(message: unknown): unknown {
  const parsed: unknown = typeof message === 'string' ? JSON.parse(message) : message;
  return parsed !== null && typeof parsed === 'object' && 'requestPayload' in parsed
    ? (parsed as { requestPayload: unknown }).requestPayload
    : parsed;
}

/** A prediction event the callback rule hands to the delivery function (it carries the callback target). */
export const isCallbackEvent = (
  event: unknown,
): event is { source: typeof EVENT_SOURCE; detail: { callback: { url: string } } } =>
  typeof event === 'object' &&
  event !== null &&
  (event as { source?: unknown }).source === EVENT_SOURCE &&
  typeof (event as { detail?: { callback?: { url?: unknown } } }).detail?.callback?.url === 'string';

/**
 * What a dead-letter message is replayed with: its S3 event (marked as a replay) for the inference
 * function, or its prediction event for the callback deliverer (the callback DLQ holds those).
 */
export function replayableEvent(message: unknown): unknown {
  const payload = payloadOf(message);
  return isCallbackEvent(payload) ? payload : markedAsReplay(eventFromDeadLetter(message));
}

export type ReplayOutcome =
  | { source: string; ok: true; result: unknown }
  | { source: string; ok: false; error: string };

type Invoke = (event: unknown) => Promise<unknown>;

/**
 * The runtime ended the run (timeout, out of memory, the process exiting): the handler's own catch never
 * ran. Not import or handler errors (Runtime.ImportModuleError…): no retry can help those.
 */
const wasKilled = (payload: string): boolean =>
  /"errorType"\s*:\s*"(Sandbox\.Timedout|Runtime\.OutOfMemory|Runtime\.ExitError)"/.test(payload);

/**
 * Invokes a deployed function synchronously with the event; a function error is a failed replay. A run
 * the runtime killed could not end its record FAILED, and a synchronous call has no retries and no
 * on-failure destination: the event is then handed to Lambda's asynchronous path, whose retries end in
 * the dead-letter topic (the recorder ends the record FAILED; the queue keeps the event again).
 */
export function lambdaInvoker(lambda: LambdaClient, functionName: string): Invoke {
  return async (event) => {
    const Payload = Buffer.from(JSON.stringify(event));
    const response = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload }),
    );
    const payload = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (!response.FunctionError) return payload ? JSON.parse(payload) : undefined;
    // A callback's delivery ends in its own queue whatever happens: nothing is left unfinished there.
    if (!wasKilled(payload) || isCallbackEvent(event))
      throw new Error(`${response.FunctionError}: ${payload}`);
    await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload }));
    throw new Error(
      `${response.FunctionError}: ${payload} (handed to Lambda's asynchronous retries: the record ends FAILED if they fail too)`,
    );
  };
}

export interface LocalReplayTarget {
  s3Endpoint: string;
  dynamoDbEndpoint: string;
  bucket: string;
  tableName: string;
  /** The stack's data folder: its events file gets the replay's events, its dlq/callbacks/ their failures. */
  dataDir: string;
  /** The stack's callback secret (SER_WEBHOOK_SECRET). */
  webhookSecret: string;
  log: (line: string) => void;
}

/**
 * The inference handler of this repository, pointed at a running local stack (`npm start`): the same
 * code Lambda runs, configured from the environment it reads at import, as on a cold start. Its terminal
 * predictions are announced as the stack's are (the stack's events file, the callback rule), as the
 * deployed function publishes them on AWS; each replay returns once its callbacks are delivered or
 * dead-lettered. In the stack's own process (tests), the handler module is the stack's: its bus is
 * replaced by this one, which writes to the same places.
 */
export async function localInvoker(target: LocalReplayTarget): Promise<Invoke> {
  const local = await import('./local/stack.ts');
  const paths = local.dataPaths(target.dataDir);
  // Checked first: a replay whose event could not be announced would have processed the file already.
  if (!existsSync(paths.dataDir)) {
    throw new Error(`No local stack data folder at ${paths.dataDir}: set SER_DATA_DIR to npm start's`);
  }
  const { DEFAULT_MODEL_DIR, readModelVersion } = await import('../lib/paths.ts');
  local.setHandlerEnvironment(
    {
      bucket: target.bucket,
      tableName: target.tableName,
      modelVersion: readModelVersion(DEFAULT_MODEL_DIR),
      webhookSecret: target.webhookSecret,
    },
    { s3: target.s3Endpoint, dynamoDb: target.dynamoDbEndpoint },
  );
  const processModule = await import('../lambdas/handlers/process-object.ts');
  const deliverModule = await import('../lambdas/handlers/deliver-callback.ts');
  const { lambdaContext } = await import('./local/lambda-context.ts');
  const { bus, callbacks } = await local.startLocalAnnouncements({ ...paths, log: target.log });
  processModule.usePredictionEvents(bus);
  return async (event) => {
    // A dead-lettered callback is delivered once more, as one invocation of the deliverer.
    if (isCallbackEvent(event))
      return deliverModule.handler(event as never, lambdaContext('deliver-callback'));
    try {
      return await processModule.handler(event, lambdaContext('process-object'));
    } finally {
      await callbacks.idle();
    }
  };
}

/** Replays each message in turn; a failure is reported and the next message is still tried. */
export async function replayMessages(
  messages: { source: string; body: unknown }[],
  invoke: Invoke,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const { source, body } of messages) {
    try {
      outcomes.push({ source, ok: true, result: await invoke(replayableEvent(body)) });
    } catch (error) {
      outcomes.push({ source, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return outcomes;
}

/**
 * Drains an SQS dead-letter queue: each message is replayed and deleted only once the replay
 * succeeded, so a message whose cause is not fixed yet stays (and reappears after its visibility timeout).
 */
export async function drainQueue(
  sqs: SQSClient,
  queueUrl: string,
  invoke: Invoke,
  maxMessages: number,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  while (outcomes.length < maxMessages) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, maxMessages - outcomes.length),
        WaitTimeSeconds: 1,
        // Long enough for a replay of the batch (the function's timeout is 2 min).
        VisibilityTimeout: 300,
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      const [outcome] = await replayMessages(
        [{ source: message.MessageId ?? '?', body: message.Body }],
        invoke,
      );
      outcomes.push(outcome!);
      if (outcome!.ok) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    }
  }
  return outcomes;
}
