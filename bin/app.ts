import { App } from 'aws-cdk-lib';
import { SerStack } from '../lib/ser-stack.ts';

const app = new App();
const context = (name: string): number | undefined => {
  const value = app.node.tryGetContext(name);
  return value === undefined ? undefined : Number(value);
};

// `cdk synth -c rawAudioRetentionDays=3` etc. override the defaults; no account or region is needed.
const rawAudioRetentionDays = context('rawAudioRetentionDays');
// `-c inferenceReservedConcurrency=none` for accounts whose concurrency quota is still the default 10.
const reservedContext = app.node.tryGetContext('inferenceReservedConcurrency');
const reservedConcurrency = reservedContext === 'none' ? null : context('inferenceReservedConcurrency');
new SerStack(app, 'SerApi', {
  description:
    'Speech emotion recognition API: presigned uploads, S3-triggered inference, DynamoDB predictions',
  ...(rawAudioRetentionDays ? { rawAudioRetentionDays } : {}),
  ...(reservedConcurrency !== undefined ? { inferenceReservedConcurrency: reservedConcurrency } : {}),
});
