import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_RECORD_TTL_DAYS,
  DEFAULT_SPEAKER_TTL_DAYS,
  DEFAULT_UPLOAD_URL_TTL_SEC,
} from '../lambdas/app/config.ts';
import { DEFAULT_MODEL_REFRESH_SEC } from '../lambdas/training/active-model-config.ts';
import { DEFAULT_TRAINING_MAX_RUN_MINUTES } from '../lambdas/training/launcher.ts';
import { DEFAULT_RAW_AUDIO_RETENTION_DAYS } from '../lib/constructs/audio-storage.ts';
import { DEFAULT_CALLBACK_RESERVED_CONCURRENCY } from '../lib/constructs/callback-delivery.ts';
import { DEFAULT_INFERENCE_RESERVED_CONCURRENCY } from '../lib/constructs/inference.ts';
import { DEFAULT_USAGE_PLAN } from '../lib/constructs/ser-api.ts';
import {
  DEPLOY_SETTINGS,
  DeploySettingsError,
  parseDeploySettings,
  stackPropsOf,
} from '../lib/deploy-settings.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** The problems `parseDeploySettings` reports for `context`, or [] when it accepts it. */
const problemsOf = (context: Record<string, unknown>): string[] => {
  try {
    parseDeploySettings(context);
    return [];
  } catch (error) {
    if (error instanceof DeploySettingsError) return error.problems;
    throw error;
  }
};

describe('deploy settings (cdk -c name=value)', () => {
  it.each([
    ['rawAudioRetentionDays', 'abc', 'a whole number of days, 1 or more'],
    ['rawAudioRetentionDays', '0', 'a whole number of days, 1 or more'],
    ['rawAudioRetentionDays', '2.5', 'a whole number of days, 1 or more'],
    ['inferenceReservedConcurrency', '0', 'a whole number, 1 or more, or none'],
    ['inferenceReservedConcurrency', 'ten', 'a whole number, 1 or more, or none'],
    ['trainingSpot', 'maybe', 'true or false'],
    ['trainingMaxHours', 'ten', 'a number of hours above 0'],
    ['trainingInstanceType', 'big', 'an EC2 instance type'],
    ['dropFolderSpeakerPrefixes', 'calls,,meetings', 'comma-separated folder names'],
    // Written into the API's IAM erase grant, where * and ? inside a name would be wildcards.
    ['dropFolderSpeakerPrefixes', 'calls*', 'comma-separated folder names'],
    ['dropFolderSpeakerPrefixes', 'calls,team?', 'comma-separated folder names'],
    ['dropFolderSpeakerPrefixes', 'calls//eu', 'comma-separated folder names'],
    ['recordTtlDays', '0', 'a whole number of days, 1 or more'],
    ['speakerTtlDays', 'month', 'a whole number of days, 1 or more'],
    ['uploadUrlTtlSec', '30', 'a whole number of seconds from 60 to 3600'],
    ['uploadUrlTtlSec', '7200', 'a whole number of seconds from 60 to 3600'],
    ['modelRefreshSec', '-1', 'a whole number of seconds, 0 or more'],
    // A key's limits above the stage's (50 requests/s, bursts of 100) would never apply.
    ['apiRateLimit', '80', "requests per second per API key, above 0 and at most the stage's 50"],
    ['apiRateLimit', '0', "requests per second per API key, above 0 and at most the stage's 50"],
    ['apiBurstLimit', '500', "a whole number of requests from 1 to the stage's 100"],
    ['apiDailyQuota', '0', 'a whole number of requests per API key per day, 1 or more'],
    ['alarmEmail', 'ops@', 'an email address'],
    ['alarmTopicArn', 'ops-alarms', 'a standard SNS topic ARN'],
    ['alarmTopicArn', 'arn:aws:sns:eu-west-1:123456789012:ops.fifo', 'a standard SNS topic ARN'],
  ])('refuses %s=%s, naming the setting, the value and what is accepted', (name, value, accepts) => {
    const problems = problemsOf({ [name]: value });

    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`-c ${name}=${value}: expected ${accepts}`);
  });

  it('says which origin of the list is not one', () => {
    expect(problemsOf({ allowedOrigins: 'https://app.example.com,*' })).toEqual([
      expect.stringContaining('allowedOrigins: "*" is not an origin'),
    ]);
  });

  it('refuses a misspelt setting instead of keeping its default, and ignores CDK’s own context keys', () => {
    const problems = problemsOf({
      rawAudioRetentionDay: '3',
      'cli-telemetry': false,
      '@aws-cdk/core:newStyleStackSynthesis': true,
      'aws:cdk:bundling-stacks': [],
    });

    expect(problems).toEqual([expect.stringMatching(/^-c rawAudioRetentionDay: no such setting/)]);
  });

  it('lists every problem at once', () => {
    expect(problemsOf({ rawAudioRetentionDays: 'abc', trainingSpot: 'maybe' })).toHaveLength(2);
  });

  it('turns command-line strings and cdk.json values into the stack props', () => {
    const props = stackPropsOf(
      parseDeploySettings({
        rawAudioRetentionDays: '3',
        inferenceReservedConcurrency: '25',
        trainingInstanceType: 'c7i.xlarge',
        trainingSpot: 'true',
        trainingMaxHours: '1.5',
        allowedOrigins: 'https://app.example.com, http://localhost:5173',
        dropFolderSpeakerPrefixes: ['calls', 'meetings'],
        apiBurstLimit: 40,
        uploadUrlTtlSec: '900',
        alarmEmail: 'ops@example.com',
        alarmTopicArn: 'arn:aws-cn:sns:cn-north-1:123456789012:ops-alarms',
      }),
    );

    expect(props).toMatchObject({
      rawAudioRetentionDays: 3,
      inferenceReservedConcurrency: 25,
      extraAllowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
      dropFolderSpeakerPrefixes: ['calls', 'meetings'],
      training: { spot: true },
      usagePlan: { burstLimit: 40 },
      uploadUrlTtlSec: 900,
      alarms: { email: 'ops@example.com', topicArn: 'arn:aws-cn:sns:cn-north-1:123456789012:ops-alarms' },
    });
    expect(props.training?.instanceType?.toString()).toBe('c7i.xlarge');
    expect(props.training?.maxRunTime?.toMinutes()).toBe(90);
    expect(stackPropsOf(parseDeploySettings({ inferenceReservedConcurrency: 'none' }))).toMatchObject({
      inferenceReservedConcurrency: null,
    });
    expect(stackPropsOf(parseDeploySettings({ trainingSpot: false })).training?.spot).toBe(false);
  });

  it('leaves unset settings to the stack’s defaults', () => {
    const props = stackPropsOf(parseDeploySettings({}));

    expect(props).not.toHaveProperty('inferenceReservedConcurrency');
    expect(props.rawAudioRetentionDays).toBeUndefined();
    expect(props.training).toEqual({ instanceType: undefined, spot: undefined, maxRunTime: undefined });
  });
});

describe('bin/app.ts (the CDK app, as `cdk synth` runs it)', () => {
  const model = fakeModelPackage('app-model-3');
  afterAll(() => model.remove());

  /** Runs the app as the CDK CLI does: context in CDK_CONTEXT_JSON, the template to CDK_OUTDIR. */
  const synthApp = async (context: Record<string, unknown>) => {
    const outdir = await mkdtemp(join(tmpdir(), 'ser-app-'));
    const env = {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
      CDK_OUTDIR: outdir,
      SER_MODEL_DIR: model.dir,
    };
    try {
      await run(TSX, ['bin/app.ts'], { cwd: ROOT, env });
      return JSON.parse(await readFile(join(outdir, 'SerApi.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      };
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  };

  it('fails the synth on a bad setting with the message alone', async () => {
    const failure = await synthApp({ inferenceReservedConcurrency: '0' }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim()).toBe(
      'Invalid deploy settings:\n' +
        '  -c inferenceReservedConcurrency=0: expected a whole number, 1 or more, or none (no reservation)',
    );
  });

  it('builds the template from the settings given, with the model package SER_MODEL_DIR names', async () => {
    const template = await synthApp({
      inferenceReservedConcurrency: '3',
      rawAudioRetentionDays: '2',
      recordTtlDays: '14',
      speakerTtlDays: '7',
      uploadUrlTtlSec: '600',
      modelRefreshSec: '10',
      apiRateLimit: '2.5',
      apiDailyQuota: '500',
      alarmEmail: 'ops@example.com',
    });

    const resources = Object.values(template.Resources);
    const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
    const functionNamed = (description: string) =>
      functions.find((fn) => String(fn.Properties.Description).startsWith(description))!;
    const variablesOf = (description: string) =>
      (functionNamed(description).Properties.Environment as { Variables: Record<string, string> }).Variables;
    const inference = functionNamed('Speech emotion recognition');
    expect(inference.Properties.ReservedConcurrentExecutions).toBe(3);
    expect(variablesOf('Speech emotion recognition')).toMatchObject({
      RECORD_TTL_DAYS: '14',
      SPEAKER_TTL_DAYS: '7',
      MODEL_REFRESH_SEC: '10',
    });
    expect(variablesOf('SER REST API')).toMatchObject({
      RECORD_TTL_DAYS: '14',
      SPEAKER_TTL_DAYS: '7',
      UPLOAD_URL_TTL_SEC: '600',
    });
    const alarms = resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    expect(JSON.stringify(resources)).toContain('"Endpoint":"ops@example.com"');
    // The burst limit was not given: it keeps its default.
    expect(resources.find((r) => r.Type === 'AWS::ApiGateway::UsagePlan')?.Properties).toMatchObject({
      Throttle: { RateLimit: 2.5, BurstLimit: 20 },
      Quota: { Limit: 500, Period: 'DAY' },
    });
    const bucket = Object.values(template.Resources).find((r) =>
      JSON.stringify(r.Properties?.LifecycleConfiguration ?? '').includes('uploads/'),
    );
    expect(JSON.stringify(bucket?.Properties.LifecycleConfiguration)).toContain('"ExpirationInDays":2');
    expect(JSON.stringify(functions)).toContain('"MODEL_VERSION":"app-model-3"');
  }, 120_000);
});

describe('README "Deploy"', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Deploy\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  /** The settings table: name → default column. */
  const table = Object.fromEntries(
    [...section.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)].map(([, name, value]) => [name, value!.trim()]),
  );

  it('lists every setting the app reads, and no other', () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(DEPLOY_SETTINGS).sort());
  });

  it('states the defaults the stack uses and the concurrency they reserve', () => {
    expect(table).toMatchObject({
      rawAudioRetentionDays: String(DEFAULT_RAW_AUDIO_RETENTION_DAYS),
      recordTtlDays: String(DEFAULT_RECORD_TTL_DAYS),
      speakerTtlDays: String(DEFAULT_SPEAKER_TTL_DAYS),
      uploadUrlTtlSec: String(DEFAULT_UPLOAD_URL_TTL_SEC),
      modelRefreshSec: String(DEFAULT_MODEL_REFRESH_SEC),
      apiRateLimit: String(DEFAULT_USAGE_PLAN.rateLimit),
      apiBurstLimit: String(DEFAULT_USAGE_PLAN.burstLimit),
      apiDailyQuota: String(DEFAULT_USAGE_PLAN.dailyQuota),
      inferenceReservedConcurrency: String(DEFAULT_INFERENCE_RESERVED_CONCURRENCY),
      trainingMaxHours: String(DEFAULT_TRAINING_MAX_RUN_MINUTES / 60),
      trainingSpot: 'false',
    });
    // Lambda keeps 100 unreserved in every account.
    const reserved = DEFAULT_INFERENCE_RESERVED_CONCURRENCY + DEFAULT_CALLBACK_RESERVED_CONCURRENCY;
    expect(section).toContain(`at least ${100 + reserved}`);
  });

  it('names every output of the stack', () => {
    const model = fakeModelPackage('readme-model');
    const { template } = synthStack('SerReadme', {
      modelDir: model.dir,
      alarms: { email: 'ops@example.com' },
    });
    const outputs = Object.keys(template.toJSON().Outputs as object);
    model.remove();

    // API Gateway's own endpoint output (the same URL as ApiUrl) cannot be turned off; the docs skip it.
    const named = outputs.filter((id) => !id.startsWith('ApiRestApiEndpoint'));
    expect(named.filter((id) => !section.includes(`\`${id}\``))).toEqual([]);
  });
});
