import { Duration } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import type { Node } from 'constructs';
import * as z from 'zod';
import {
  isSpeakerPrefix,
  SPEAKER_PREFIX_RULE,
  TtlDaysSchema,
  UploadUrlTtlSecSchema,
} from '../lambdas/app/config.ts';
import { checkedOrigins } from '../lambdas/app/cors.ts';
import { ModelRefreshSecSchema } from '../lambdas/training/active-model-config.ts';
import { STAGE_THROTTLE } from './constructs/ser-api.ts';
import type { SerStackProps } from './ser-stack.ts';

/**
 * The deploy-time settings (`cdk deploy -c name=value`, or `context` in cdk.json), read and checked once,
 * as the handlers parse their environment (lambdas/app/config.ts): a malformed value fails the synth
 * naming the setting, the value and what is accepted, instead of falling back to a default or reaching
 * the template. Unset settings keep the stack's defaults, which live with the constructs that use them.
 */

const wholeNumber = (min: number) => z.coerce.number().int().min(min);
/** `true`/`false` on the command line (z.stringbool, as the handlers' flags), or a JSON boolean in cdk.json. */
const flag = z.union([z.boolean(), z.stringbool()]);
/** Comma-separated on the command line, or a JSON array in cdk.json; no empty item. */
const list = z
  .union([z.array(z.string()), z.string().transform((value) => value.split(','))])
  .transform((items) => items.map((item) => item.trim()))
  .refine((items) => items.every(Boolean), 'an empty item');

interface Setting {
  readonly schema: z.ZodType;
  /** What the failure message says is accepted. */
  readonly accepts: string;
}

/** Every setting the app reads, with what it accepts (README "Deploy" lists the same names). */
export const DEPLOY_SETTINGS = {
  rawAudioRetentionDays: { schema: wholeNumber(1), accepts: 'a whole number of days, 1 or more' },
  // The handlers' own bounds (lambdas/app/config.ts): a value they would refuse at cold start fails here.
  recordTtlDays: { schema: TtlDaysSchema, accepts: 'a whole number of days, 1 or more' },
  speakerTtlDays: { schema: TtlDaysSchema, accepts: 'a whole number of days, 1 or more' },
  uploadUrlTtlSec: { schema: UploadUrlTtlSecSchema, accepts: 'a whole number of seconds from 60 to 3600' },
  modelRefreshSec: { schema: ModelRefreshSecSchema, accepts: 'a whole number of seconds, 0 or more' },
  apiRateLimit: {
    schema: z.coerce.number().positive().max(STAGE_THROTTLE.rateLimit),
    accepts: `requests per second per API key, above 0 and at most the stage's ${STAGE_THROTTLE.rateLimit}`,
  },
  apiBurstLimit: {
    schema: wholeNumber(1).max(STAGE_THROTTLE.burstLimit),
    accepts: `a whole number of requests from 1 to the stage's ${STAGE_THROTTLE.burstLimit}`,
  },
  apiDailyQuota: {
    schema: wholeNumber(1),
    accepts: 'a whole number of requests per API key per day, 1 or more',
  },
  inferenceReservedConcurrency: {
    schema: z.union([z.literal('none'), wholeNumber(1)]),
    accepts: 'a whole number, 1 or more, or none (no reservation)',
  },
  trainingInstanceType: {
    schema: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/),
    accepts: 'an EC2 instance type such as c7i.xlarge',
  },
  trainingSpot: { schema: flag, accepts: 'true or false' },
  trainingMaxHours: { schema: z.coerce.number().positive(), accepts: 'a number of hours above 0' },
  allowedOrigins: {
    schema: list.superRefine((origins, context) => {
      try {
        checkedOrigins(origins, 'allowedOrigins');
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
    accepts: 'comma-separated origins such as https://app.example.com (no path, never *)',
  },
  dropFolderSpeakerPrefixes: {
    schema: list.refine((prefixes) => prefixes.every(isSpeakerPrefix), SPEAKER_PREFIX_RULE),
    accepts:
      'comma-separated folder names under incoming/ (no * or ? in a name, no empty name as in calls//x), or * (every folder)',
  },
  alarmEmail: { schema: z.email(), accepts: 'an email address' },
  alarmTopicArn: {
    // A standard topic: publishing to a FIFO one (.fifo) needs a message group id, which alarms do not send.
    schema: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/),
    accepts: 'a standard SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ops-alarms',
  },
} satisfies Record<string, Setting>;

export type DeploySettingName = keyof typeof DEPLOY_SETTINGS;
type Parsed = { [K in DeploySettingName]?: z.output<(typeof DEPLOY_SETTINGS)[K]['schema']> };

/** Every problem of the settings given, one a line: what an operator reads instead of a stack trace. */
export class DeploySettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid deploy settings:\n  ${problems.join('\n  ')}`);
    this.name = 'DeploySettingsError';
  }
}

/** A setting-shaped context key (not a feature flag, `aws:cdk:…` or `cli-telemetry`) that no setting has. */
const looksLikeASetting = (key: string): boolean => /^[a-z][A-Za-z0-9]*$/.test(key);

/**
 * Checks `context` (every key the app was given) against the settings: unknown setting-like keys (a typo
 * would silently keep a default) and malformed values throw one Error that lists each problem.
 */
export function parseDeploySettings(context: Record<string, unknown>): Parsed {
  const names = Object.keys(DEPLOY_SETTINGS) as DeploySettingName[];
  const problems = Object.keys(context)
    .filter((key) => looksLikeASetting(key) && !(key in DEPLOY_SETTINGS))
    .map((key) => `-c ${key}: no such setting (the settings: ${names.join(', ')})`);
  const parsed: Parsed = {};
  for (const name of names) {
    const value = context[name];
    if (value === undefined) continue;
    const result = DEPLOY_SETTINGS[name].schema.safeParse(value);
    if (result.success) Object.assign(parsed, { [name]: result.data });
    else problems.push(problemOf(name, value, result.error));
  }
  if (problems.length > 0) throw new DeploySettingsError(problems);
  return parsed;
}

function problemOf(name: DeploySettingName, value: unknown, error: z.ZodError): string {
  // checkedOrigins says which item of a list is wrong.
  const named = error.issues.find((issue) => issue.message.startsWith(`${name}:`));
  const why = named ? ` (${named.message})` : '';
  const given = typeof value === 'string' ? value : JSON.stringify(value);
  return `-c ${name}=${given}${why}: expected ${DEPLOY_SETTINGS[name].accepts}`;
}

/** The stack's props from the parsed settings; unset ones stay undefined (the stack's defaults). */
export function stackPropsOf(settings: Parsed): SerStackProps {
  const { trainingInstanceType, trainingSpot, trainingMaxHours } = settings;
  return {
    rawAudioRetentionDays: settings.rawAudioRetentionDays,
    recordTtlDays: settings.recordTtlDays,
    speakerTtlDays: settings.speakerTtlDays,
    uploadUrlTtlSec: settings.uploadUrlTtlSec,
    modelRefreshSec: settings.modelRefreshSec,
    usagePlan: {
      rateLimit: settings.apiRateLimit,
      burstLimit: settings.apiBurstLimit,
      dailyQuota: settings.apiDailyQuota,
    },
    ...(settings.inferenceReservedConcurrency !== undefined
      ? {
          inferenceReservedConcurrency:
            settings.inferenceReservedConcurrency === 'none' ? null : settings.inferenceReservedConcurrency,
        }
      : {}),
    extraAllowedOrigins: settings.allowedOrigins,
    dropFolderSpeakerPrefixes: settings.dropFolderSpeakerPrefixes,
    alarms: { email: settings.alarmEmail, topicArn: settings.alarmTopicArn },
    training: {
      instanceType: trainingInstanceType ? new InstanceType(trainingInstanceType) : undefined,
      spot: trainingSpot,
      maxRunTime: trainingMaxHours ? Duration.hours(trainingMaxHours) : undefined,
    },
  };
}

/** The settings the app was deployed with (`app.node`), checked: the one place bin/app.ts reads context. */
export const deploySettings = (node: Node): SerStackProps =>
  stackPropsOf(parseDeploySettings(node.getAllContext()));
