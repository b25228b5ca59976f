import { App, Duration } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
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
// Training: `-c trainingInstanceType=c7i.xlarge -c trainingSpot=true -c trainingMaxHours=3`.
const trainingInstanceType = app.node.tryGetContext('trainingInstanceType') as string | undefined;
const trainingMaxHours = context('trainingMaxHours');
const training = {
  ...(trainingInstanceType ? { instanceType: new InstanceType(trainingInstanceType) } : {}),
  ...(String(app.node.tryGetContext('trainingSpot')) === 'true' ? { spot: true } : {}),
  ...(trainingMaxHours ? { maxRunTime: Duration.hours(trainingMaxHours) } : {}),
};
// `-c allowedOrigins=https://app.example.com,http://localhost:5173`: CORS for front ends beside the web page.
const allowedOrigins = app.node.tryGetContext('allowedOrigins') as string | undefined;
// `-c dropFolderSpeakerPrefixes=calls,meetings` (or `*`): incoming/<prefix>/<speakerId>/… names a speaker.
const speakerPrefixes = app.node.tryGetContext('dropFolderSpeakerPrefixes') as string | undefined;
const list = (value: string) => value.split(',').map((item) => item.trim());
new SerStack(app, 'SerApi', {
  description:
    'Speech emotion recognition API: presigned uploads, S3-triggered inference, DynamoDB predictions',
  ...(rawAudioRetentionDays ? { rawAudioRetentionDays } : {}),
  ...(reservedConcurrency !== undefined ? { inferenceReservedConcurrency: reservedConcurrency } : {}),
  ...(allowedOrigins ? { extraAllowedOrigins: list(allowedOrigins) } : {}),
  ...(speakerPrefixes ? { dropFolderSpeakerPrefixes: list(speakerPrefixes) } : {}),
  training,
});
