import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { deadLetterRecord } from '../replay.ts';
import { lambdaContext } from './lambda-context.ts';
import type { PredictionEventEnvelope } from './local-event-bus.ts';
import { createEventQueue } from './s3-event-bridge.ts';

type DeliverHandler = (event: PredictionEventEnvelope, context: Context) => Promise<unknown>;

/**
 * The AWS callback path on this machine: the rule (events whose upload asked for a callback) → the same
 * delivery handler, retried as Lambda retries an asynchronous invocation, then written to
 * `<dead-letter dir>/` as the SQS DLQ would keep it. The handler reads its environment at import.
 */
export async function startLocalCallbacks(options: { deadLetterDir: string; log: (line: string) => void }) {
  const handler: DeliverHandler = (await import('../../lambdas/handlers/deliver-callback.ts')).handler;
  const queue = createEventQueue<PredictionEventEnvelope>(
    (event) => handler(event, lambdaContext('deliver-callback')),
    {
      // On AWS each event is its own invocation: a receiver that hangs must not hold up the others.
      concurrent: true,
      onDelivered: (event, outcome) =>
        options.log(`callback ${event.detail.id} → ${event.detail.callback?.url} ${JSON.stringify(outcome)}`),
      onFailed: (event, error, attempt) =>
        options.log(`callback ${event.detail.id} failed (attempt ${attempt}/3): ${(error as Error).message}`),
      onExhausted: async (event, error, attempts) => {
        await mkdir(options.deadLetterDir, { recursive: true });
        const file = join(options.deadLetterDir, `${event.detail.eventId}-${randomUUID()}.json`);
        const arn = 'arn:aws:lambda:local:000000000000:function:deliver-callback';
        await writeFile(file, JSON.stringify(deadLetterRecord(event, error, attempts, arn), null, 2));
        options.log(`callback ${event.detail.id} dead-lettered after ${attempts} attempts → ${file}`);
      },
    },
  );
  return {
    /** The rule's filter: only events that carry a callback target reach the deliverer. */
    route(event: PredictionEventEnvelope): void {
      if (event.detail.callback) queue.push(event);
    },
    idle: () => queue.idle(),
  };
}
