import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { ProcessOutcome } from '../../lambdas/app/object-processor.ts';
import { deadLetterRecord } from '../replay.ts';
import { lambdaContext } from './lambda-context.ts';
import { createEventQueue } from './s3-event-bridge.ts';

export type ProcessHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface ProcessingQueueOptions {
  processHandler: ProcessHandler;
  /** The on-failure topic's recorder: it ends a dead-lettered event's records FAILED. */
  deadLetterHandler: ProcessHandler;
  deadLetterDir: string;
  /** The `ser replay` command line that replays `file` into this stack, for the dead-letter log line. */
  replayCommand: (file: string) => string;
  log: (line: string) => void;
  onProcessed?: (outcome: ProcessOutcome) => void;
}

/** The SNS notification the on-failure topic delivers for a destination record. */
const snsEvent = (message: unknown) => ({
  Records: [
    {
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:local:000000000000:dead-letters:local',
      Sns: { Type: 'Notification', MessageId: randomUUID(), Message: JSON.stringify(message) },
    },
  ],
});

interface LoggedOutcome {
  outcome: string;
  id?: string;
  prediction?: Record<string, unknown>;
  reason?: string;
  warning?: string;
}

/** One line per outcome: the file, the outcome, the emotion or error code, the id, and any warning. */
function outcomeLine({ outcome, id, prediction: p, reason, warning }: LoggedOutcome): string {
  const detail = p
    ? p.status === 'SUCCEEDED'
      ? `${p.emotion} (${Number(p.confidence).toFixed(2)})`
      : `${(p.error as { code: string }).code}`
    : (reason ?? '');
  return `processed ${p?.fileName ?? ''} → ${outcome.toUpperCase()} ${detail} [${id ?? ''}]${warning ? ` (${warning})` : ''}`.replace(
    /\s+/g,
    ' ',
  );
}

/**
 * As Lambda's on-failure destination: the event is kept for `ser replay`, never dropped, and, as the
 * on-failure topic's second subscriber in AWS, its records end FAILED (PROCESSING_FAILED).
 */
async function deadLetter(options: ProcessingQueueOptions, event: unknown, error: unknown, attempts: number) {
  const { deadLetterDir, log } = options;
  await mkdir(deadLetterDir, { recursive: true });
  const file = join(deadLetterDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.json`);
  const record = deadLetterRecord(event, error, attempts);
  await writeFile(file, JSON.stringify(record, null, 2));
  await options
    .deadLetterHandler(snsEvent(record), lambdaContext('dead-letter'))
    .catch((failure: unknown) =>
      log(`dead-letter recorder failed: ${failure instanceof Error ? failure.message : String(failure)}`),
    );
  log(
    `dead-lettered after ${attempts} attempts → ${file} (fix the cause, then: ${options.replayCommand(file)})`,
  );
}

/** S3 notifications → the inference handler, one at a time, retried and dead-lettered as on AWS. */
export function createProcessingQueue(options: ProcessingQueueOptions) {
  const { log } = options;
  return createEventQueue((event) => options.processHandler(event, lambdaContext('process-object')), {
    onDelivered: (_event, outcomes) => {
      for (const outcome of outcomes as ProcessOutcome[]) options.onProcessed?.(outcome);
      for (const outcome of outcomes as LoggedOutcome[]) log(outcomeLine(outcome));
    },
    onFailed: (_event, error, attempt) =>
      log(
        `processing failed (attempt ${attempt}/3): ${error instanceof Error ? error.message : String(error)}`,
      ),
    onExhausted: (event, error, attempts) => deadLetter(options, event, error, attempts),
  });
}
