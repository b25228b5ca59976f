import { readFile, rm } from 'node:fs/promises';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_DATA_DIR, DEFAULT_WEBHOOK_SECRET } from './local/defaults.ts';
import { printable } from './printable.ts';
import { drainQueue, lambdaInvoker, localInvoker, type ReplayOutcome, replayMessages } from './replay.ts';

export interface ReplayOptions {
  queueUrl?: string;
  functionName?: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  bucket: string;
  table: string;
  maxMessages: number;
  /** Local replays: the stack's data folder. @default SER_DATA_DIR, else npm start's default */
  dataDir?: string;
  /** Local replays: the stack's callback secret. @default SER_WEBHOOK_SECRET, else npm start's default */
  webhookSecret?: string;
}

/** `ser replay`: prints one line per message and returns the exit code (1 when any replay failed). */
export async function replayFromCommandLine(files: string[], options: ReplayOptions): Promise<number> {
  if (files.length === 0 && !options.queueUrl) {
    console.error('Name dead-letter message files or --queue-url');
    return 2;
  }
  if (options.queueUrl && !options.functionName) {
    console.error('--queue-url needs --function-name (the deployed inference function)');
    return 2;
  }
  const invoke = options.functionName
    ? lambdaInvoker(new LambdaClient({}), options.functionName)
    : await localInvoker({
        s3Endpoint: options.s3Endpoint,
        dynamoDbEndpoint: options.dynamodbEndpoint,
        bucket: options.bucket,
        tableName: options.table,
        // The variables npm start reads, so a replay announces where the stack does.
        dataDir: options.dataDir ?? process.env.SER_DATA_DIR ?? DEFAULT_DATA_DIR,
        webhookSecret: options.webhookSecret ?? process.env.SER_WEBHOOK_SECRET ?? DEFAULT_WEBHOOK_SECRET,
        log: (line) => console.log(printable(line)),
      });

  const outcomes: ReplayOutcome[] = [];
  if (files.length > 0) {
    const messages = await Promise.all(
      files.map(async (file) => ({ source: file, body: await readFile(file, 'utf8') })),
    );
    for (const outcome of await replayMessages(messages, invoke)) {
      outcomes.push(outcome);
      // A replayed file is done with, as a deleted SQS message is; a failed one stays for the next try.
      if (outcome.ok) await rm(outcome.source, { force: true });
    }
  }
  if (options.queueUrl) {
    outcomes.push(...(await drainQueue(new SQSClient({}), options.queueUrl, invoke, options.maxMessages)));
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  process.exitCode = failed > 0 ? 1 : 0; // before printing: a reader that closes early ends the run (ser.ts)
  for (const outcome of outcomes) {
    // The results and errors quote keys and file names (JSON leaves DEL and C1 characters raw).
    console.log(
      printable(
        outcome.ok
          ? `replayed ${outcome.source}: ${JSON.stringify(outcome.result)}`
          : `FAILED  ${outcome.source}: ${outcome.error}`,
      ),
    );
  }
  console.log(`${outcomes.length - failed}/${outcomes.length} replayed`);
  return failed > 0 ? 1 : 0;
}
