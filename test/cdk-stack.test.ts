import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREDICTION_LEADING_KEYS } from '../lambdas/app/object-keys.ts';
import { API_ROUTES } from '../lambdas/app/routes.ts';
import type { SerStack } from '../lib/ser-stack.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

// Control-plane tests: no bundling (the asset test covers the real asset), a model package that only
// has to say its version.
const model = fakeModelPackage('test-model-7');
const modelDir = model.dir;

function synth(props: ConstructorParameters<typeof SerStack>[2] = {}, validate = true): Template {
  // The built-in CloudFormation validation runs once, on the default stack; variants skip it (4 s each).
  return synthStack('SerApiTest', { modelDir, ...props }, { validate }).template;
}

describe('SerStack', () => {
  let template: Template;
  let resources: Record<string, Resource>;

  const logicalIdOf = (type: string, idPart: string): string => {
    const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(idPart));
    expect(ids).toHaveLength(1);
    return ids[0]!;
  };
  const statementsOfRoleFor = (functionIdPart: string): Statement[] => {
    const fnId = logicalIdOf('AWS::Lambda::Function', functionIdPart);
    const roleRef = (resources[fnId]!.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleRef}"`))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  };

  // One synthesis with CloudFormation validation: slow on a loaded 2-core machine, so it gets more room.
  beforeAll(() => {
    template = synth();
    resources = template.toJSON().Resources;
  }, 180_000);

  afterAll(() => model.remove());

  it('names its outputs as the docs do (no construct path or hash in them)', () => {
    // API Gateway's RestApi adds its own endpoint output (the same URL as ApiUrl) under its path; it cannot be turned off.
    const outputs = Object.keys(template.toJSON().Outputs).filter(
      (id) => !id.startsWith('ApiRestApiEndpoint'),
    );
    expect(outputs.sort()).toEqual([
      'AdminPolicyArn',
      'AlarmsCommand',
      'ApiKeyValueCommand',
      'ApiUrl',
      'AudioBucketName',
      'CallbackDeadLetterQueueUrl',
      'CallbackReplayCommand',
      'DashboardName',
      'DashboardUrl',
      'DeadLetterQueueUrl',
      'DropFolderCommand',
      'PredictionsTableName',
      'ReplayCommand',
      'TrainingLaunchTemplateId',
      'WebUrl',
      'WebhookSecretCommand',
    ]);
  });

  it('notifies the inference function of objects created under uploads/ and incoming/ only', () => {
    const inferenceId = logicalIdOf('AWS::Lambda::Function', 'InferenceProcessObject');
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [inferenceId, 'Arn'] },
          },
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [inferenceId, 'Arn'] },
          },
        ],
      },
    });
    expect(JSON.stringify(template.findResources('Custom::S3BucketNotifications'))).not.toContain('results/');
  });

  it('blocks all public access, encrypts, and denies non-TLS requests on every bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const [id, bucket] of Object.entries(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
    // No statement grants anything to everyone.
    for (const policy of Object.values(template.findResources('AWS::S3::BucketPolicy'))) {
      for (const s of policy.Properties.PolicyDocument.Statement as (Statement & { Principal: unknown })[]) {
        if (s.Effect === 'Allow') expect(JSON.stringify(s.Principal)).not.toMatch(/"\*"/);
      }
    }
  });

  it('allows cross-origin uploads only from the web page, and expires raw audio and results', () => {
    const distributionId = logicalIdOf('AWS::CloudFront::Distribution', 'Distribution');
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedMethods: ['PUT', 'POST'],
            AllowedOrigins: [
              { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] },
            ],
            AllowedHeaders: ['content-type'],
          },
        ].map((rule) => Match.objectLike(rule)),
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          // Expiry only adds a delete marker: the audio (now noncurrent) goes a day later, not a week.
          ...['uploads/', 'incoming/'].map((Prefix) =>
            Match.objectLike({
              Prefix,
              ExpirationInDays: 7,
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
              Status: 'Enabled',
            }),
          ),
          Match.objectLike({ Prefix: 'results/', ExpirationInDays: 30, Status: 'Enabled' }),
        ]),
      },
    });
    synth({ rawAudioRetentionDays: 2 }, false).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: 'uploads/', ExpirationInDays: 2 })]),
      },
    });
  });

  it('grants no wildcard actions, and each function only the prefixes and table calls it uses', () => {
    const allStatements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    for (const s of allStatements) {
      for (const action of asArray(s.Action)) expect(action).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
    }

    const bucketId = logicalIdOf('AWS::S3::Bucket', 'AudioBucket');
    const tableId = logicalIdOf('AWS::DynamoDB::Table', 'Predictions');
    const objects = (prefix: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}*`]],
    });
    const notTrainingOrRegistry = {
      'ForAllValues:StringNotLike': {
        'dynamodb:LeadingKeys': ['TRAINING_JOB#*', 'TRAINING_LOCK', 'MODEL#*', 'MODEL_ACTIVE'],
      },
    };
    const onData = (statements: Statement[]) =>
      statements.filter((s) => JSON.stringify(s.Resource).match(new RegExp(`${bucketId}|${tableId}`)));

    const inference = onData(statementsOfRoleFor('InferenceProcessObject'));
    expect(inference).toEqual(
      expect.arrayContaining([
        // Only the key's current object is read: GetObject, never a named version (GetObjectVersion).
        expect.objectContaining({
          Action: 's3:GetObject',
          Resource: [objects('uploads/'), objects('incoming/')],
        }),
        expect.objectContaining({ Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } }),
        expect.objectContaining({ Action: 's3:PutObject', Resource: objects('results/') }),
        // A file sent to an erased upload's still-valid URL is deleted, and a result file whose record
        // was erased before its processor's commit (past its lease).
        expect.objectContaining({
          Action: 's3:DeleteObject',
          Resource: [objects('uploads/'), objects('results/')],
        }),
        // BatchGetItem: an adapting clip's speaker statistics and erasure marker in one request.
        expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'] }),
        // UpdateItem creates what it does not find: never the registry's or the training side's items.
        expect.objectContaining({ Action: 'dynamodb:UpdateItem', Condition: notTrainingOrRegistry }),
        // Training: model packages from the registry (the bundled model is registered at deploy time).
        expect.objectContaining({ Action: 's3:GetObject', Resource: objects('models/') }),
      ]),
    );
    expect(inference).toHaveLength(7);
    expect(JSON.stringify(inference)).not.toContain('dynamodb:PutItem');
    const recorder = onData(statementsOfRoleFor('InferenceDeadLetterRecorder'));
    expect(recorder).toEqual([
      // GetItem too: markFailed reads a record whose condition refused the update (it had already ended).
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Condition: notTrainingOrRegistry,
      }),
      // A dead-lettered drop-folder object's FAILED result file.
      expect.objectContaining({ Action: 's3:PutObject', Resource: objects('results/') }),
    ]);

    const api = onData(statementsOfRoleFor('ApiHandler'));
    expect(api).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 's3:PutObject', Resource: objects('uploads/') }),
        // A PENDING upload past its deadline: whether its file came (a HEAD), never another prefix.
        expect.objectContaining({ Action: 's3:GetObject', Resource: objects('uploads/') }),
        expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:Query'] }),
        // Prediction records: anything but a training or registry item ...
        expect.objectContaining({
          Action: 'dynamodb:PutItem',
          Condition: notTrainingOrRegistry,
        }),
        // ... and, from the training construct, jobs, the lock and the active pointer: never a model
        // version's record (which names the package the inference function loads).
        expect.objectContaining({
          Action: 'dynamodb:PutItem',
          Condition: {
            'ForAllValues:StringLike': {
              'dynamodb:LeadingKeys': ['TRAINING_JOB#*', 'TRAINING_LOCK', 'MODEL_ACTIVE'],
            },
          },
        }),
        // DELETE /speakers/{id}: speaker statistics and prediction records (UUIDs, 32 hex digits) are the
        // items it deletes, never a training or registry item even of the same length.
        expect.objectContaining({
          Action: 'dynamodb:DeleteItem',
          Condition: {
            'ForAllValues:StringLike': {
              'dynamodb:LeadingKeys': ['SPEAKER#*', '????????-????-????-????-????????????', '?'.repeat(32)],
            },
            ...notTrainingOrRegistry,
          },
        }),
        // ... and the objects the speaker's records name: uploaded audio only, as no drop-folder speaker
        // prefix is configured (see the next test for the drop folder's).
        expect.objectContaining({ Action: 's3:DeleteObject', Resource: objects('uploads/') }),
        // Training: job records and the lock are updated, nothing else.
        expect.objectContaining({
          Action: 'dynamodb:UpdateItem',
          Condition: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TRAINING_JOB#*', 'TRAINING_LOCK'] },
          },
        }),
        // A job's dataset prefix is listed before a launch; no object under it is read.
        expect.objectContaining({
          Action: 's3:ListBucket',
          Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
          Condition: { StringLike: { 's3:prefix': ['datasets/*'] } },
        }),
        // Before an activation, the package's metadata.json is read and its ONNX HEADed.
        expect.objectContaining({ Action: 's3:GetObject', Resource: objects('models/') }),
      ]),
    );
    expect(api).toHaveLength(10);
    // No drop-folder speaker prefixes: no record's audio is deleted by version.
    expect(api.filter((s) => asArray(s.Action).includes('s3:DeleteObjectVersion'))).toEqual([]);
  });

  it.each([
    [
      ['calls', 'meetings/'],
      ['incoming/calls/', 'incoming/meetings/', 'results/calls/', 'results/meetings/'],
    ],
    [
      ['*', 'calls'],
      ['incoming/', 'results/'],
    ],
  ])(
    'with drop-folder speaker prefixes %j, erasure may delete objects under uploads/ and %j only, versions under incoming/ there only',
    (dropFolderSpeakerPrefixes, drop) => {
      const variant = synth({ dropFolderSpeakerPrefixes }, false);
      const bucketId = Object.keys(variant.findResources('AWS::S3::Bucket')).find((id) =>
        id.includes('AudioBucket'),
      );
      const objects = (prefix: string) => ({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}*`]],
      });
      // The API function's role (the inference role may delete under uploads/ for its own reason).
      const functions = variant.findResources('AWS::Lambda::Function');
      const apiId = Object.keys(functions).find((id) => id.includes('ApiHandler'))!;
      const roleRef = (functions[apiId]!.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const statements = Object.values(variant.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleRef}"`))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
      const withAction = (action: string) => statements.filter((s) => asArray(s.Action).includes(action));

      expect(withAction('s3:DeleteObject')).toEqual([
        expect.objectContaining({ Action: 's3:DeleteObject', Resource: ['uploads/', ...drop].map(objects) }),
      ]);
      // An erased record's drop-folder audio is deleted by the version it stores (a delete marker would
      // hide the same file dropped again after the erasure): under the speaker folders of incoming/ only.
      const versionDeletes = withAction('s3:DeleteObjectVersion');
      expect(versionDeletes).toEqual([expect.objectContaining({ Action: 's3:DeleteObjectVersion' })]);
      expect(asArray(versionDeletes[0]!.Resource)).toEqual(
        drop.filter((p) => p.startsWith('incoming/')).map(objects),
      );
    },
  );

  it('sends events that failed all retries to a topic: the DLQ keeps them (alarm), a recorder ends their records FAILED', () => {
    const inferenceId = logicalIdOf('AWS::Lambda::Function', 'InferenceProcessObject');
    const queueId = logicalIdOf('AWS::SQS::Queue', 'InferenceDeadLetterQueue');
    const topicId = logicalIdOf('AWS::SNS::Topic', 'InferenceProcessingFailures');
    const recorderId = logicalIdOf('AWS::Lambda::Function', 'InferenceDeadLetterRecorder');
    // The topic holds the failed events (object keys, error messages) at rest under the AWS-managed SNS
    // key, which grants the publisher nothing beyond sns:Publish (checked by the least-privilege table).
    const topic = template.findResources('AWS::SNS::Topic')[topicId] as {
      Properties: { KmsMasterKeyId?: unknown };
    };
    expect(JSON.stringify(topic.Properties.KmsMasterKeyId)).toMatch(/alias\/aws\/sns/);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: inferenceId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { Ref: topicId } } },
    });
    // The queue gets the destination record itself (raw delivery), as `ser replay` reads it.
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId },
      Protocol: 'sqs',
      RawMessageDelivery: true,
      Endpoint: { 'Fn::GetAtt': [queueId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId },
      Protocol: 'lambda',
      Endpoint: { 'Fn::GetAtt': [recorderId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Description: Match.stringLikeRegexp('PROCESSING_FAILED'),
    });
    const tableId = logicalIdOf('AWS::DynamoDB::Table', 'Predictions');
    const onTable = statementsOfRoleFor('InferenceDeadLetterRecorder').filter((s) =>
      JSON.stringify(s.Resource).includes(tableId),
    );
    expect(onTable).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'] }),
    ]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 1,
    });
    // The recorder itself failing leaves records unfinished: that has its own alarm.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: recorderId } }],
      Threshold: 1,
    });
  });

  it('keeps data by default: bucket versioning with noncurrent expiry, table deletion protection, encrypted training volume', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'expire-noncurrent-versions',
            NoncurrentVersionExpiration: { NoncurrentDays: 7 },
            Status: 'Enabled',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      DeletionProtectionEnabled: true,
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: [
          Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }),
        ],
      }),
    });
  });

  it('serves the web page with a Content-Security-Policy and no inline script', () => {
    const policies = template.findResources('AWS::CloudFront::ResponseHeadersPolicy');
    const [policy] = Object.values(policies) as {
      Properties: { ResponseHeadersPolicyConfig: { SecurityHeadersConfig: Record<string, unknown> } };
    }[];
    const headers = policy!.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig as {
      ContentSecurityPolicy: { ContentSecurityPolicy: unknown; Override: boolean };
      FrameOptions: { FrameOption: string };
    };
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain('execute-api');
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution')) as {
      Properties: { DistributionConfig: { DefaultCacheBehavior: { ResponseHeadersPolicyId: unknown } } };
    }[];
    expect(distribution!.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({
      Ref: Object.keys(policies)[0],
    });
  });

  it('runs the inference on Node.js 22 with its memory, timeout and reserved concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Speech emotion recognition'),
      Runtime: 'nodejs22.x',
      Architectures: ['x86_64'],
      MemorySize: 1769,
      Timeout: 60,
      ReservedConcurrentExecutions: 10,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({ PROCESSING_LEASE_SEC: '120', MAX_UPLOAD_BYTES: '26214400' }),
      },
    });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Runtime).not.toMatch(/nodejs(1\d|20)\./);
    }
    const unreserved = synth({ inferenceReservedConcurrency: null }, false).findResources(
      'AWS::Lambda::Function',
      {
        Properties: { Description: Match.stringLikeRegexp('Speech emotion recognition') },
      },
    );
    expect(Object.values(unreserved)[0]?.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("with speaker prefixes, an erased speaker's late clips are dropped with the erasure markers and incoming/<prefix>/ only", () => {
    const variant = synth({ dropFolderSpeakerPrefixes: ['calls'] }, false);
    const bucketId = Object.keys(variant.findResources('AWS::S3::Bucket')).find((id) =>
      id.includes('AudioBucket'),
    );
    const objects = (prefix: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}*`]],
    });
    const functions = variant.findResources('AWS::Lambda::Function');
    const statementsOf = (name: string) => {
      const id = Object.keys(functions).find((fn) => fn.includes(name))!;
      const roleRef = (functions[id]!.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      return Object.values(variant.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleRef}"`))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    };
    const withAction = (statements: Statement[], action: string) =>
      statements.filter((s) => asArray(s.Action).includes(action));
    const recorder = statementsOf('DeadLetterRecorder');
    const processor = statementsOf('ProcessObject');

    // The recorder reads the markers with its records' GetItem; it HEADs and deletes under the speaker
    // folder of incoming/ only.
    expect(withAction(recorder, 'dynamodb:GetItem')).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'] }),
    ]);
    expect(withAction(recorder, 's3:GetObject')).toEqual([
      expect.objectContaining({ Resource: objects('incoming/calls/') }),
    ]);
    // ... and the result file it wrote for a clip whose speaker was erased meanwhile, there only.
    expect(withAction(recorder, 's3:DeleteObject').map((s) => s.Resource)).toEqual([
      objects('incoming/calls/'),
      objects('results/calls/'),
    ]);
    // The processor deletes there too (it reads the markers with its table-wide GetItem or BatchGetItem).
    expect(withAction(processor, 's3:DeleteObject').map((s) => s.Resource)).toContainEqual(
      objects('incoming/calls/'),
    );
    expect(JSON.stringify(withAction(processor, 's3:DeleteObject'))).not.toContain('/incoming/*');
    // Both delete the version they judged (not the key, whose delete marker would hide a later upload),
    // there only.
    for (const statements of [recorder, processor]) {
      expect(withAction(statements, 's3:DeleteObjectVersion')).toEqual([
        expect.objectContaining({ Resource: objects('incoming/calls/') }),
      ]);
    }
    // Both delete a record they wrote before the marker was there, prediction records only.
    for (const statements of [recorder, processor]) {
      expect(withAction(statements, 'dynamodb:DeleteItem')).toEqual([
        expect.objectContaining({
          Condition: expect.objectContaining({
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': PREDICTION_LEADING_KEYS },
          }),
        }),
      ]);
    }
  });

  it('gives the drop folder speaker prefixes to the inference function and to the dead-letter recorder', () => {
    const functions = synth({ dropFolderSpeakerPrefixes: ['calls'] }, false).findResources(
      'AWS::Lambda::Function',
      { Properties: { Environment: { Variables: { DROP_FOLDER_SPEAKER_PREFIXES: 'calls' } } } },
    );
    const descriptions = Object.values(functions).map((fn) => String(fn.Properties.Description));
    // The records either writes carry their speaker, so that it can be listed and erased.
    expect(descriptions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Speech emotion recognition/),
        expect.stringMatching(/dead-lettered/),
      ]),
    );
  });

  it('requires the user API key on upload and prediction routes, IAM on admin routes, nothing on /health and /openapi.json', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.HttpMethod !== 'OPTIONS',
    );
    expect(methods).toHaveLength(API_ROUTES.length);
    const apiResources = template.findResources('AWS::ApiGateway::Resource');
    const pathOf = (id: string): string => {
      const r = apiResources[id];
      if (!r) return '';
      const parent = (r.Properties.ParentId as { Ref?: string }).Ref;
      return `${parent ? pathOf(parent) : ''}/${r.Properties.PathPart}`;
    };
    const byPath = Object.fromEntries(
      methods.map((m) => [
        `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId.Ref)}`,
        `${m.Properties.ApiKeyRequired ? 'key' : 'no key'}, ${m.Properties.AuthorizationType}`,
      ]),
    );
    expect(byPath).toEqual({
      'POST /uploads': 'key, NONE',
      'GET /predictions': 'key, NONE',
      'GET /predictions/{id}': 'key, NONE',
      'DELETE /speakers/{id}': 'key, NONE',
      'DELETE /drop-folder/speakers/{id}': 'no key, AWS_IAM',
      'GET /drop-folder/speakers/{id}/predictions': 'no key, AWS_IAM',
      'GET /health': 'no key, NONE',
      'GET /openapi.json': 'no key, NONE',
      'POST /training-jobs': 'no key, AWS_IAM',
      'GET /training-jobs': 'no key, AWS_IAM',
      'GET /training-jobs/{id}': 'no key, AWS_IAM',
      'GET /models': 'no key, AWS_IAM',
      'POST /models/{version}/activate': 'no key, AWS_IAM',
    });
    // The admin policy lets operators call each admin route (each path parameter a `*`), and no other.
    const [adminPolicy] = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p) =>
      String(p.Properties.Description).startsWith('SER operators'),
    );
    // Each ARN is a join whose last part is `/<METHOD>/<path>`, after the API's and stage's references.
    const resources = adminPolicy?.Properties.PolicyDocument.Statement[0].Resource as {
      'Fn::Join': [string, unknown[]];
    }[];
    const invocable = resources.map((arn) => String(arn['Fn::Join'][1].at(-1)).replace(/^\//, ''));
    expect(invocable.sort()).toEqual(
      Object.entries(byPath)
        .filter(([, access]) => access.endsWith('AWS_IAM'))
        .map(([route]) => route.replace(' ', '').replace(/\{[^}]+\}/g, '*'))
        .sort(),
    );
    // CORS preflights cannot carry a key: they must not need one.
    // ...and they allow every method a route has (DELETE included), from the same list as the local stack's.
    for (const m of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      if (m.Properties.HttpMethod !== 'OPTIONS') continue;
      expect(m.Properties.ApiKeyRequired).not.toBe(true);
      const allowed = m.Properties.Integration.IntegrationResponses[0].ResponseParameters[
        'method.response.header.Access-Control-Allow-Methods'
      ] as string;
      expect(allowed.replaceAll("'", '').split(',')).toEqual(
        expect.arrayContaining(['GET', 'POST', 'DELETE']),
      );
    }
  });

  it('limits each key with a usage plan and logs every request', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 10, BurstLimit: 20 },
      Quota: { Limit: 10_000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    // A wrong key, and an admin route called with the user key (no SigV4: "Missing Authentication Token"),
    // are both 403, as README and docs/training-jobs.md say.
    for (const ResponseType of ['INVALID_API_KEY', 'MISSING_AUTHENTICATION_TOKEN'])
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType,
        StatusCode: '403',
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"FORBIDDEN"') },
      });
    // A body over API Gateway's 10 MB: the same code as the local adapter's.
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'REQUEST_TOO_LARGE',
      StatusCode: '413',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"PAYLOAD_TOO_LARGE"') },
    });
  });

  it("stores predictions on demand with PITR, TTL, a newest-first index and a speaker's-records index", () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byCreatedAt',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
        }),
        // Sparse: only records that name a speaker have `speakerKey`; the same createdAt#id order.
        Match.objectLike({
          IndexName: 'bySpeaker',
          KeySchema: [
            { AttributeName: 'speakerKey', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
    });
  });

  it('reports the model version on /health from the shipped package', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MODEL_VERSION: 'test-model-7' }) },
    });
  });
});
