import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  DATASETS_ROOT,
  INCOMING_PREFIX,
  RESULTS_PREFIX,
  TRAINING_LOGS_PREFIX,
  UPLOADS_PREFIX,
} from '../lambdas/app/object-keys.ts';
import { MODELS_PREFIX, modelPackagePrefix } from '../lambdas/training/model-registry.ts';
import { ADMIN_ROUTE_PATHS } from './constructs/ser-api.ts';
import type { SerStack } from './ser-stack.ts';

/**
 * The cdk-nag AwsSolutions findings this stack accepts, each with its reason, on the construct it concerns
 * (`test/cdk-nag.test.ts` runs the pack and requires every other finding to be fixed). A finding id names
 * the exact permission or policy (`AwsSolutions-IAM5[Resource::<Bucket.Arn>/uploads/*]`), so a new
 * wildcard is a new finding, never covered by an old reason.
 */
export function acknowledgeNagFindings(stack: SerStack): void {
  acknowledgeEveryFunction(stack);
  acknowledgeStorage(stack);
  acknowledgeInference(stack);
  acknowledgeApi(stack);
  acknowledgeWebSite(stack);
  acknowledgeTraining(stack);
  acknowledgeCallbacks(stack);
}

const acknowledge = (scope: IConstruct, reason: string, ...ids: string[]): void => {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
};

/** `<LogicalId>` as cdk-nag writes a reference to a resource in a finding id. */
const logicalIdOf = (construct: IConstruct): string => {
  const element = construct.node.defaultChild as CfnElement;
  return `<${Stack.of(construct).resolve(element.logicalId)}>`;
};
/** `<LogicalId.Arn>` as cdk-nag writes a resource's ARN in a finding id. */
const arnOf = (construct: IConstruct): string => `${logicalIdOf(construct).slice(0, -1)}.Arn>`;
const objectsUnder = (bucket: IConstruct, prefix: string): string =>
  `AwsSolutions-IAM5[Resource::${arnOf(bucket)}/${prefix}*]`;

function acknowledgeEveryFunction(stack: SerStack): void {
  acknowledge(
    stack,
    "Lambda's documented policy for writing the function's own logs, and nothing else.",
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  );
  acknowledge(
    stack,
    'Node.js 22 is the project runtime (.nvmrc, engines, the local stack and the training instance run it), ' +
      "so Lambda runs what the tests run; CDK's own BucketDeployment handler follows aws-cdk-lib.",
    'AwsSolutions-L1',
  );
}

function acknowledgeStorage({ storage }: SerStack): void {
  acknowledge(
    storage.bucket,
    'Each object is accounted for by its prediction record and the API access log; raw audio expires in a ' +
      'week. Server access logs need a bucket of their own per deployment: left to the operator (or ' +
      'CloudTrail S3 data events account-wide).',
    'AwsSolutions-S1',
  );
}

function acknowledgeInference({ inference, storage }: SerStack): void {
  acknowledge(
    inference.deadLetterQueue,
    "This queue is the dead-letter queue (the inference function's on-failure destination).",
    'AwsSolutions-SQS3',
  );
  acknowledge(
    inference.function,
    'Scoped to the key prefixes the processor reads (uploads/, incoming/), writes (results/) and loads ' +
      'models from (models/), and to the table indexes it queries; X-Ray trace segments have no resource ARN.',
    objectsUnder(storage.bucket, UPLOADS_PREFIX),
    objectsUnder(storage.bucket, INCOMING_PREFIX),
    objectsUnder(storage.bucket, RESULTS_PREFIX),
    objectsUnder(storage.bucket, MODELS_PREFIX),
    ...inference.speakerObjectPrefixes.map((p) => objectsUnder(storage.bucket, p)),
    `AwsSolutions-IAM5[Resource::${arnOf(storage.table)}/index/*]`,
    'AwsSolutions-IAM5[Resource::*]',
  );
  acknowledge(
    inference.deadLetterRecorder,
    'UpdateItem on the table (granted by CDK with its indexes) to end dead-lettered records FAILED, ' +
      "their drop-folder result files under results/, and an erased speaker's objects under its speaker " +
      'folders of incoming/ (read and deleted) and results/ (deleted); X-Ray trace segments have no resource ARN.',
    `AwsSolutions-IAM5[Resource::${arnOf(storage.table)}/index/*]`,
    objectsUnder(storage.bucket, RESULTS_PREFIX),
    ...inference.speakerObjectPrefixes.map((p) => objectsUnder(storage.bucket, p)),
    ...inference.speakerResultPrefixes.map((p) => objectsUnder(storage.bucket, p)),
    'AwsSolutions-IAM5[Resource::*]',
  );
}

function acknowledgeApi({ api, storage }: SerStack): void {
  acknowledge(
    api.function,
    'Presigned uploads are signed for uploads/ only (and an upload past its deadline HEADs its file there), activation reads the package under models/ that it ' +
      "switches to, a speaker's erasure deletes the audio (uploads/, incoming/<speaker prefix>/, there by the " +
      'version its record stores) and result ' +
      'files (results/<speaker prefix>/) its records name, and listings query the table indexes; RunInstances ' +
      'needs the instance, volume, network interface, subnet and image resource types (the launch template ' +
      'and its tag conditions narrow it); X-Ray trace segments have no resource ARN.',
    ...new Set(
      [UPLOADS_PREFIX, ...api.erasableObjectPrefixes, MODELS_PREFIX].map((p) =>
        objectsUnder(storage.bucket, p),
      ),
    ),
    `AwsSolutions-IAM5[Resource::${arnOf(storage.table)}/index/*]`,
    ...['instance', 'volume', 'network-interface', 'subnet'].map(
      (type) =>
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:${type}/*]`,
    ),
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>::image/*]',
    'AwsSolutions-IAM5[Resource::*]',
  );
  // execute-api ARNs name the API's own stage and method; `*` stands for one path parameter ({id}, {version}):
  // the admin routes that have one are the policy's wildcards.
  const adminRoute = (method: string, path: string) =>
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${logicalIdOf(api.restApi)}/${logicalIdOf(api.restApi.deploymentStage)}/${method}${path}]`;
  acknowledge(
    api.adminPolicy,
    "The admin routes of this API's own stage; the wildcard is the route's path parameter (a job id, a model version, a speaker id).",
    ...ADMIN_ROUTE_PATHS.filter((r) => r.path.includes('*')).map((r) => adminRoute(r.method, r.path)),
  );
  acknowledge(
    api.restApi,
    'Routes are authorised by API keys with a usage plan (per-key throttle and daily quota); /health and ' +
      '/openapi.json are public on purpose. Clients are programs holding keys, not Cognito users.',
    'AwsSolutions-APIG4',
    'AwsSolutions-COG4',
  );
  acknowledge(
    api.restApi,
    "Bodies and parameters are validated by the handler (zod), which answers in the API's own error shape " +
      'with a code per failure; a gateway validator would answer in another.',
    'AwsSolutions-APIG2',
  );
  acknowledge(
    api.restApi,
    'Per-key throttling and quotas are the abuse control; a WAF web ACL is an operator choice with its own cost.',
    'AwsSolutions-APIG3',
  );
  acknowledge(
    api.restApi,
    'The account-level role API Gateway writes logs with; this managed policy is the one it requires.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
  );
}

function acknowledgeWebSite(stack: SerStack): void {
  const { web } = stack;
  acknowledge(
    web.bucket,
    'Holds the static page only; CloudFront (origin access control) is its one reader.',
    'AwsSolutions-S1',
  );
  acknowledge(
    web.distribution,
    'A static page without user data: geographic restriction, WAF and access logs are operator choices. ' +
      'The default *.cloudfront.net certificate does not let the TLS policy be raised; a custom domain with ' +
      'its own certificate does.',
    'AwsSolutions-CFR1',
    'AwsSolutions-CFR2',
    'AwsSolutions-CFR3',
    'AwsSolutions-CFR4',
  );
  // The page's BucketDeployment runs one Lambda per stack (a singleton at the stack's root) whose policy
  // aws-cdk-lib writes: copy from the asset bucket into the site bucket, then invalidate the distribution.
  const deployment = stack.node.children.find((child) =>
    child.node.id.startsWith('Custom::CDKBucketDeployment'),
  );
  if (deployment) {
    acknowledge(
      deployment,
      "aws-cdk-lib's BucketDeployment: reads the page's asset, replaces the site bucket's objects and " +
        'invalidates the distribution (CloudFront invalidations have no resource ARN).',
      ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
        (action) => `AwsSolutions-IAM5[Action::${action}]`,
      ),
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
      `AwsSolutions-IAM5[Resource::${arnOf(web.bucket)}/*]`,
      'AwsSolutions-IAM5[Resource::*]',
    );
  }
}

function acknowledgeTraining({ training, storage }: SerStack): void {
  acknowledge(
    training.role,
    'The instance reads the dataset prefix, writes model packages under models/ and its own log under ' +
      'training-logs/<job>/ (its job id is known only on the instance); Session Manager (no SSH, no inbound ' +
      'rule) registers the instance and opens its channels, actions without resource ARNs.',
    objectsUnder(storage.bucket, DATASETS_ROOT),
    objectsUnder(storage.bucket, MODELS_PREFIX),
    objectsUnder(storage.bucket, TRAINING_LOGS_PREFIX),
    'AwsSolutions-IAM5[Resource::*]',
  );
  const registration = training.bundledModelRegistration;
  acknowledge(
    registration.function,
    'Deploy time: writes the bundled package under its own models/<version>/ prefix (its objects are ' +
      'named by the package) and reads any stored package under models/ (a stack rollback runs it with the ' +
      "previous version's properties, possibly under the policy it is leaving); X-Ray trace segments have " +
      'no resource ARN.',
    objectsUnder(storage.bucket, modelPackagePrefix(registration.version)),
    objectsUnder(storage.bucket, MODELS_PREFIX),
    'AwsSolutions-IAM5[Resource::*]',
  );
  acknowledge(
    registration.provider,
    "aws-cdk-lib's custom-resource Provider framework: it invokes the registration function (the grant " +
      'covers its versions and aliases, `:*`), and nothing else.',
    `AwsSolutions-IAM5[Resource::${arnOf(registration.function)}:*]`,
  );
}

function acknowledgeCallbacks({ callbacks }: SerStack): void {
  acknowledge(
    callbacks.deadLetterQueue,
    "This queue is the dead-letter queue (the callback function's on-failure destination and the rule's DLQ).",
    'AwsSolutions-SQS3',
  );
  acknowledge(
    callbacks.defaultKeySecret,
    'A webhook secret is shared with the receiver, which must switch at the same time: rotated by the ' +
      'operator (put-secret-value, README "Callbacks"), not on a schedule that would break deliveries.',
    'AwsSolutions-SMG4',
  );
  acknowledge(
    callbacks.function,
    'Webhook secrets are one per API key, created as keys are added, so the grant is the name prefix ' +
      '(Secrets Manager also appends a random suffix to every ARN); X-Ray trace segments have no resource ARN.',
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${callbacks.secretPrefix}*]`,
    'AwsSolutions-IAM5[Resource::*]',
  );
}
