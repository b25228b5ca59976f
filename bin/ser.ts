import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { isSerError } from '../lambdas/core/errors.ts';
import { createPredictor, DEFAULT_MAX_DURATION_SEC } from '../lambdas/core/predict.ts';
import type { PredictionResult } from '../lambdas/core/types.ts';
import type { ReplayOptions } from './replay-command.ts';
import { createSpeakerContexts, type SpeakerContextOptions } from './speaker-contexts.ts';

/** Extensions a folder walk picks up; files named on the command line are tried whatever their name. */
const AUDIO_EXTENSIONS = new Set([
  '.wav',
  '.wave',
  '.mp3',
  '.ogg',
  '.oga',
  '.opus',
  '.flac',
  '.aif',
  '.aiff',
]);

async function* walkAudioFiles(path: string): AsyncGenerator<string> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    yield path;
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* walkAudioFiles(child);
    else if (AUDIO_EXTENSIONS.has(extname(entry.name).toLowerCase())) yield child;
  }
}

type FileOutcome =
  | { file: string; result: PredictionResult }
  | { file: string; error: { code: string; message: string } };

const percent = (p: number): string => `${(p * 100).toFixed(1)}%`;

function formatRow(outcome: FileOutcome): string[] {
  if ('error' in outcome) return [outcome.file, `error ${outcome.error.code}`, '', outcome.error.message];
  const { result } = outcome;
  const top3 = Object.entries(result.probabilities)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([label, p]) => `${label} ${percent(p)}`)
    .join(', ');
  return [outcome.file, result.emotion, percent(result.confidence), top3];
}

function printTable(rows: string[][]): void {
  const header = ['file', 'emotion', 'confidence', 'top 3'];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  for (const row of all)
    console.log(
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    );
}

const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

const groupByFolder = (value: string): 'folder' => {
  if (value !== 'folder') throw new InvalidArgumentError('the only grouping is "folder"');
  return value;
};

type PredictCommandOptions = SpeakerContextOptions & { json?: boolean; model?: string; maxDuration: number };

const speakerFields = (speakerId: string | undefined, result: PredictionResult) =>
  speakerId === undefined
    ? {}
    : { speakerId, ...(result.adaptation ? { adaptation: result.adaptation } : {}) };

const program = new Command()
  .name('ser')
  .description('Speech emotion recognition: audio in, emotion out.')
  .showHelpAfterError();

program
  .command('predict')
  .description('predict the emotion of audio files (folders are walked recursively)')
  .argument('<paths...>', 'audio files or folders')
  .option('--json', 'one JSON object per line per file')
  .option('--model <dir>', 'model package folder (default: the bundled model)')
  .option(
    '--max-duration <seconds>',
    'refuse longer audio with TOO_LONG',
    positiveNumber,
    DEFAULT_MAX_DURATION_SEC,
  )
  .option('--speaker <id>', 'all files are one speaker: each is judged against the earlier ones')
  .option('--group-by <folder>', '"folder": the files of each folder are one speaker', groupByFolder)
  .action(async (paths: string[], options: PredictCommandOptions) => {
    const predictor = await createPredictor({ modelDir: options.model });
    const speakers = createSpeakerContexts(options);
    const rows: string[][] = [];
    let failures = 0;
    const report = (outcome: FileOutcome) => {
      if ('error' in outcome) failures++;
      if (options.json) {
        const line =
          'error' in outcome
            ? outcome
            : {
                file: outcome.file,
                emotion: outcome.result.emotion,
                confidence: outcome.result.confidence,
                probabilities: outcome.result.probabilities,
                durationSec: outcome.result.durationSec,
                segments: outcome.result.segments,
                ...speakerFields(speakers.speakerOf(outcome.file), outcome.result),
              };
        console.log(JSON.stringify(line));
      } else rows.push(formatRow(outcome));
    };

    const unreadable = (file: string, error: unknown): FileOutcome => ({
      file,
      error: { code: 'UNREADABLE_FILE', message: error instanceof Error ? error.message : String(error) },
    });
    for (const path of paths) {
      const files: string[] = [];
      try {
        for await (const file of walkAudioFiles(path)) files.push(file);
      } catch (error) {
        report(unreadable(path, error));
        continue;
      }
      for (const file of files) {
        const name = relative(process.cwd(), file) || file;
        let bytes: Uint8Array;
        try {
          bytes = await readFile(file);
        } catch (error) {
          report(unreadable(name, error));
          continue;
        }
        try {
          const speaker = speakers.predictOptions(name);
          const result = await predictor.predict(bytes, { maxDurationSec: options.maxDuration, speaker });
          speakers.record(name, result);
          report({ file: name, result });
        } catch (error) {
          // Bad input is reported per file and the run goes on; anything else is a bug and stops it.
          if (!isSerError(error)) throw error;
          report({ file: name, error: error.toJSON() });
        }
      }
    }
    if (!options.json) printTable(rows);
    await predictor.release();
    process.exitCode = failures > 0 ? 1 : 0;
  });

program
  .command('replay')
  .description(
    're-process S3 events that failed every retry (after fixing the cause): DLQ message files, or an SQS queue',
  )
  .argument(
    '[files...]',
    'dead-letter messages: Lambda on-failure records or bare S3 events (local: <data>/dlq/*.json); a file is deleted once its replay succeeds',
  )
  .option(
    '--queue-url <url>',
    'drain this SQS dead-letter queue (a message is deleted once its replay succeeds)',
  )
  .option('--function-name <name>', 'invoke this deployed Lambda function; default: the local handler')
  .option('--s3-endpoint <url>', 'local stack S3 (without --function-name)', 'http://127.0.0.1:4569')
  .option(
    '--dynamodb-endpoint <url>',
    'local stack DynamoDB (without --function-name)',
    'http://127.0.0.1:4567',
  )
  .option('--bucket <name>', 'local stack bucket (without --function-name)', 'ser-audio')
  .option('--table <name>', 'local stack table (without --function-name)', 'predictions')
  .option('--max-messages <n>', 'stop after this many queue messages', positiveNumber, 100)
  .action(async (files: string[], options: ReplayOptions) => {
    const { replayFromCommandLine } = await import('./replay-command.ts');
    process.exitCode = await replayFromCommandLine(files, options);
  });

await program.parseAsync();
