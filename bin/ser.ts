import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SPEAKER_PREFIX_RULE, SpeakerPrefixListSchema } from '../lambdas/app/config.ts';
import { DEFAULT_MAX_DURATION_SEC } from '../lambdas/core/audio/limits.ts';
import type { AdminOptions } from './admin/admin-client.ts';
import type { WaitOptions } from './admin/job-wait.ts';
import type { TrainOptions } from './admin/model-commands.ts';
import type { EraseSpeakerOptions, SpeakerRecordsOptions } from './admin/speaker-commands.ts';
import type { BackfillSpeakersOptions } from './backfill-speakers-command.ts';
import type { PredictOptions } from './predict-command.ts';
import type { ReplayOptions } from './replay-command.ts';
import { onStdoutError } from './stdout-closed.ts';
import type { UploadOptions } from './upload/upload-command.ts';

const positiveNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

const positiveInteger = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return n;
};

const speakerName = (value: string): string => {
  if (value.trim() === '') throw new InvalidArgumentError('a speaker name cannot be empty');
  return value;
};

const speakerPrefixes = (value: string): string[] => {
  const parsed = SpeakerPrefixListSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(SPEAKER_PREFIX_RULE);
  return parsed.data;
};

const groupByFolder = (value: string): 'folder' => {
  if (value !== 'folder') throw new InvalidArgumentError('the only grouping is "folder"');
  return value;
};

// Output piped into a reader that stops early (`ser predict … | head`): see stdout-closed.ts.
process.stdout.on('error', onStdoutError);

// Exit codes: 0 all done, 1 some file failed, 2 the command line itself was wrong — commander's own
// usage errors included (it would exit 1, which a script could not tell from a failed file).
const program = new Command()
  .name('ser')
  .description('Speech emotion recognition: audio in, emotion out.')
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

program
  .command('predict')
  .description('predict the emotion of audio files (folders are walked recursively)')
  .argument('[paths...]', 'audio files or folders (symbolic links are followed)')
  .option(
    '--files-from <file>',
    'also read paths from this file, one per line or NUL-separated (- for stdin)',
  )
  .option('--json', 'one JSON object per line per file')
  .option('--model <dir>', 'model package folder (default: SER_MODEL_DIR, else the bundled model)')
  .option(
    '--max-duration <seconds>',
    'refuse longer audio with TOO_LONG',
    positiveNumber,
    DEFAULT_MAX_DURATION_SEC,
  )
  .option(
    '--jobs <n>',
    'files predicted in parallel (worker threads)',
    positiveInteger,
    availableParallelism(),
  )
  // A speaker context judges files in order, one at a time: the two ways to give one exclude each other and --jobs.
  .addOption(
    new Option(
      '--speaker <id>',
      'all files are one speaker (a name local to this run): each is judged against the earlier ones',
    )
      .argParser(speakerName)
      .conflicts(['groupBy', 'jobs']),
  )
  .addOption(
    new Option('--group-by <folder>', '"folder": the files of each folder are one speaker')
      .argParser(groupByFolder)
      .conflicts('jobs'),
  )
  .action(async (paths: string[], options: PredictOptions) => {
    const { predictFromCommandLine } = await import('./predict-command.ts');
    process.exitCode = await predictFromCommandLine(paths, options);
  });

program
  .command('replay')
  .description(
    're-process S3 events that failed every retry (after fixing the cause), or deliver dead-lettered callbacks once more: DLQ message files, or an SQS queue',
  )
  .argument(
    '[files...]',
    'dead-letter messages: Lambda on-failure records or bare events, of S3 objects (local: <data>/dlq/*.json) or of callbacks (<data>/dlq/callbacks/*.json); a file is deleted once its replay succeeds',
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

program
  .command('upload')
  .description(
    'send audio files to a deployed or local API (or its drop folder), wait for the results, write them as JSON lines or CSV',
  )
  .argument('<paths...>', 'audio files or folders (walked recursively)')
  .addOption(new Option('--api <url>', 'the API base URL (local: http://127.0.0.1:3000)').env('SER_API_URL'))
  // From the environment, not a default: commander would print a default's value (the key) in --help.
  .addOption(new Option('--key <key>', 'the API key (header x-api-key)').env('SER_API_KEY'))
  .option(
    '--drop <s3url>',
    'instead of the API: put files under this drop-folder prefix, s3://<bucket>/incoming/…',
  )
  .option('--s3-endpoint <url>', 'with --drop: an S3 endpoint other than AWS (local: http://127.0.0.1:4569)')
  .option('--region <region>', 'with --drop: the bucket region', process.env.AWS_REGION ?? 'us-east-1')
  .option('--out <file>', 'write the results here (.csv: CSV, else JSON lines); default: stdout')
  .option('--format <format>', 'jsonl or csv (default: from --out)', (value: string) => {
    if (value !== 'jsonl' && value !== 'csv') throw new InvalidArgumentError('jsonl or csv');
    return value;
  })
  .option('--concurrency <n>', 'files in flight at once', positiveInteger, 8)
  .option('--retries <n>', 'retries of a throttled, failed or dropped request', wholeNumber, 4)
  .option('--timeout <seconds>', 'longest wait for one result', positiveNumber, 600)
  .option(
    '--speaker <id>',
    "send every file as this speaker (POST /uploads' speakerId, scoped to the API key); not with --drop, whose speakers are folders",
  )
  .action(async (paths: string[], options: UploadOptions) => {
    const { uploadFromCommandLine } = await import('./upload/upload-command.ts');
    process.exitCode = await uploadFromCommandLine(paths, options);
  });

program
  .command('backfill-speakers')
  .description(
    "after upgrading a stack: put prediction records an older deployment wrote into their speaker's listing and erasure (the bySpeaker index); safe to run twice or beside live traffic",
  )
  .requiredOption('--table <name>', 'the predictions table (local: predictions)')
  .option('--region <region>', 'the table region', process.env.AWS_REGION ?? 'us-east-1')
  .option('--dynamodb-endpoint <url>', 'a DynamoDB endpoint other than AWS (local: http://127.0.0.1:4567)')
  .option(
    '--drop-folder-speaker-prefixes <list>',
    "the deployment's DROP_FOLDER_SPEAKER_PREFIXES (comma-separated, * for every folder): older drop-folder records' speakers are their folders under these",
    speakerPrefixes,
  )
  .option(
    '--assign-drop-folder-speakers',
    'after adding or changing speaker prefixes: also give drop-folder records without a speaker the speaker their folder now names',
  )
  .option('--dry-run', 'count what would be updated, write nothing')
  .action(async (options: BackfillSpeakersOptions) => {
    const { backfillSpeakersFromCommandLine } = await import('./backfill-speakers-command.ts');
    process.exitCode = await backfillSpeakersFromCommandLine(options);
  });

const admin = program
  .command('admin')
  .description(
    "the operators' routes (drop-folder speakers, training jobs, models), with the admin credential: the local stack's SER_ADMIN_KEY, or on AWS SigV4 (IAM auth)",
  );

/** A `ser admin` command with what they all take: the API and the admin credential. */
const adminCommand = (name: string) =>
  admin
    .command(name)
    .option('--api <url>', 'the API base URL (local: http://127.0.0.1:3000)', process.env.SER_API_URL)
    .addOption(
      // From the environment, not a default: commander would print a default's value in --help.
      new Option(
        '--admin-key <key>',
        "the local stack's admin key (header x-api-key); without it, requests are signed with SigV4 for execute-api with the default AWS credentials",
      ).env('SER_ADMIN_KEY'),
    )
    .option(
      '--region <region>',
      "with SigV4: the API region (default: the one in an execute-api URL's host, else AWS_REGION, AWS_DEFAULT_REGION, us-east-1)",
    );

/**
 * `--wait` and what goes with it, for the commands that can follow a training job to its end. Giving
 * `--poll` or `--timeout` means waiting: they imply `--wait` rather than being ignored without it.
 */
const waitingOptions = (command: Command) =>
  command
    .option(
      '--wait',
      'follow the job until it ends (progress on stderr), then print it; exit code 0 only if it SUCCEEDED',
    )
    .addOption(
      new Option('--poll <seconds>', 'seconds between GET /training-jobs/{id} (implies --wait)')
        .argParser(positiveNumber)
        .default(10)
        .implies({ wait: true }),
    )
    .addOption(
      new Option(
        '--timeout <minutes>',
        "stop waiting after this long (exit code 1, the job's last state printed; implies --wait)",
      )
        .argParser(positiveNumber)
        .implies({ wait: true }),
    );

adminCommand('speaker-records')
  .description(
    "a drop-folder speaker's prediction records under every speaker prefix (every page), newest first, as JSON lines",
  )
  .argument('<speakerId>', 'the speaker: its folder under a drop-folder speaker prefix')
  .option('--limit <n>', 'records per request (the API default when absent; at most 100)', positiveInteger)
  .action(async (speakerId: string, options: SpeakerRecordsOptions) => {
    const { speakerRecordsFromCommandLine } = await import('./admin/speaker-commands.ts');
    process.exitCode = await speakerRecordsFromCommandLine(speakerId, options);
  });

adminCommand('erase-speaker')
  .description(
    'erase a drop-folder speaker: its statistics, records, audio and result files, calling again while records remain; prints the totals as JSON',
  )
  .argument('<speakerId>', 'the speaker: its folder under a drop-folder speaker prefix')
  .option(
    '--max-calls <n>',
    'stop after this many calls (each deletes up to 25 records)',
    positiveInteger,
    100,
  )
  .option('--wait <seconds>', 'pause between calls while records remain', positiveNumber, 1)
  .action(async (speakerId: string, options: EraseSpeakerOptions) => {
    const { eraseSpeakerFromCommandLine } = await import('./admin/speaker-commands.ts');
    process.exitCode = await eraseSpeakerFromCommandLine(speakerId, options);
  });

waitingOptions(adminCommand('train'))
  .description(
    'queue a training job (POST /training-jobs); prints its id: follow it with ser admin job <id> (or --wait)',
  )
  .option('--dataset <prefix>', 'the dataset prefix in the bucket (default: datasets/tess/)')
  .option('--epochs <n>', 'training epochs (default: 30)', positiveInteger)
  .option('--augment', "the shipped recipe's augmented copies of every training clip")
  .addOption(
    new Option('--activate <when>', 'when the new model goes live (default: if-better)').choices([
      'if-better',
      'always',
      'never',
    ]),
  )
  .action(async (options: TrainOptions) => {
    const { trainFromCommandLine } = await import('./admin/model-commands.ts');
    process.exitCode = await trainFromCommandLine(options);
  });

adminCommand('jobs')
  .description('the training jobs, newest first, as JSON lines')
  .action(async (options: AdminOptions) => {
    const { jobsFromCommandLine } = await import('./admin/model-commands.ts');
    process.exitCode = await jobsFromCommandLine(options);
  });

waitingOptions(adminCommand('job'))
  .description(
    "one training job: status, progress, the dataset's counts, both models' scores, its activation",
  )
  .argument('<id>', 'the id ser admin train printed')
  .action(async (id: string, options: AdminOptions & WaitOptions) => {
    const { jobFromCommandLine } = await import('./admin/model-commands.ts');
    process.exitCode = await jobFromCommandLine(id, options);
  });

adminCommand('models')
  .description('the model registry, one version per line (its metrics, and whether it is active)')
  .action(async (options: AdminOptions) => {
    const { modelsFromCommandLine } = await import('./admin/model-commands.ts');
    process.exitCode = await modelsFromCommandLine(options);
  });

adminCommand('activate')
  .description('put a registered model version in service (also the rollback)')
  .argument('<version>', 'a version ser admin models lists')
  .action(async (version: string, options: AdminOptions) => {
    const { activateFromCommandLine } = await import('./admin/model-commands.ts');
    process.exitCode = await activateFromCommandLine(version, options);
  });

// A command that cannot start (a missing option, an unreadable --files-from, a broken model package)
// says why in one line, as commander does for its own usage errors; SER_DEBUG=1 shows the stack.
await program.parseAsync().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `ser: ${message}\n${process.env.SER_DEBUG && error instanceof Error ? `${error.stack}\n` : ''}`,
  );
  process.exitCode = 2;
});
