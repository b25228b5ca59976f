import type { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { createEc2TrainingLauncher, JOB_ID_TAG } from '../lambdas/training/ec2-launcher.ts';

describe('EC2 training launcher (control plane stubbed: RunInstances is not run here)', () => {
  it('runs one instance from the pinned launch template version, tagged with the job id the user data reads', async () => {
    // Prepare
    const sent: RunInstancesCommand[] = [];
    const ec2 = {
      send: async (command: RunInstancesCommand) => {
        sent.push(command);
        return { Instances: [{ InstanceId: 'i-0123456789abcdef0' }] };
      },
    } as unknown as EC2Client;

    // Act
    const launcher = createEc2TrainingLauncher(ec2, { id: 'lt-0abc', version: '3' }, 'ser-audio-1');
    const launched = await launcher.launch('job-42');

    // Assess
    expect(launched).toEqual({ launchedAs: 'i-0123456789abcdef0' });
    // Where the instance's exit trap uploads its log (lib/constructs/training.ts), recorded on the job.
    expect(launcher.machineLog?.('job-42')).toBe(
      's3://ser-audio-1/training-logs/job-42/cloud-init-output.log',
    );
    expect(sent.map((c) => c.input)).toEqual([
      {
        LaunchTemplate: { LaunchTemplateId: 'lt-0abc', Version: '3' },
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: JOB_ID_TAG, Value: 'job-42' },
              { Key: 'Name', Value: 'ser-training-job-42' },
            ],
          },
        ],
      },
    ]);
  });
});
