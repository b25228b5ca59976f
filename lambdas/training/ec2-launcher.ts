import { type EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod';
import { parseEnv } from '../app/config.ts';
import { trainingLogKey } from '../app/object-keys.ts';
import { DEFAULT_TRAINING_MAX_RUN_MINUTES, type TrainingLauncher } from './launcher.ts';
import { s3Location } from './model-registry.ts';

/** The instance tag the user data reads (through instance metadata tags) to know its job. */
export const JOB_ID_TAG = 'ser-training-job-id';

const TrainingEnvSchema = z.object({
  /** Set by the training construct; absent: training is not deployed (and POST /training-jobs answers 503). */
  TRAINING_LAUNCH_TEMPLATE_ID: z.string().min(1).optional(),
  /** The template version the stack pinned (never `$Latest`: a new version needs a deploy). */
  TRAINING_LAUNCH_TEMPLATE_VERSION: z.string().regex(/^\d+$/).optional(),
  /** The instance's hard limit; a job not ended by then is FAILED. */
  TRAINING_MAX_RUN_MINUTES: z.coerce.number().int().positive().default(DEFAULT_TRAINING_MAX_RUN_MINUTES),
});

export function loadTrainingLaunchConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(TrainingEnvSchema, env);
  return Object.freeze({
    launchTemplateId: parsed.TRAINING_LAUNCH_TEMPLATE_ID,
    launchTemplateVersion: parsed.TRAINING_LAUNCH_TEMPLATE_VERSION ?? '1',
    maxRunMinutes: parsed.TRAINING_MAX_RUN_MINUTES,
  });
}

/**
 * One EC2 instance per job from the training launch template, which holds everything else (AMI, type,
 * profile, user data, shutdown behaviour); the job id travels as a tag. The instance uploads its log to
 * `bucket` when it stops (lib/constructs/training.ts).
 */
export function createEc2TrainingLauncher(
  ec2: EC2Client,
  launchTemplate: { id: string; version: string },
  bucket: string,
): TrainingLauncher {
  return {
    machineLog: (jobId) => s3Location(bucket, trainingLogKey(jobId)),
    async launch(jobId) {
      const { Instances } = await ec2.send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateId: launchTemplate.id, Version: launchTemplate.version },
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [
            {
              ResourceType: 'instance',
              Tags: [
                { Key: JOB_ID_TAG, Value: jobId },
                { Key: 'Name', Value: `ser-training-${jobId}` },
              ],
            },
          ],
        }),
      );
      return { launchedAs: Instances?.[0]?.InstanceId ?? 'unknown instance' };
    },
  };
}
