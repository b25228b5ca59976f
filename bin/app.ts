import { App } from 'aws-cdk-lib';
import { DeploySettingsError, deploySettings } from '../lib/deploy-settings.ts';
import { SerStack } from '../lib/ser-stack.ts';

const app = new App();
try {
  // `cdk deploy -c rawAudioRetentionDays=3 …`: every setting is checked here, before anything is built
  // (lib/deploy-settings.ts; README "Deploy" lists them). No account or region is needed to synthesise.
  new SerStack(app, 'SerApi', {
    description:
      'Speech emotion recognition API: presigned uploads, S3-triggered inference, DynamoDB predictions',
    ...deploySettings(app.node),
  });
} catch (error) {
  if (!(error instanceof DeploySettingsError)) throw error;
  // The message names each bad setting; a stack trace would only bury it.
  console.error(error.message);
  process.exit(1);
}
