import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const model = fakeModelPackage('test-model-7');
const modelDir = model.dir;

describe('SerStack: completion events and callback delivery', () => {
  let template: Template;

  const functionId = (idPart: string): string => {
    const ids = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) =>
      id.includes(idPart),
    );
    expect(ids).toHaveLength(1);
    return ids[0]!;
  };
  /** Every statement of the policies attached to a function's role. */
  const statementsFor = (idPart: string): Statement[] => {
    const fn = template.findResources('AWS::Lambda::Function')[functionId(idPart)]!;
    const role = (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  };
  const defaultBusArn = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':events:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':event-bus/default',
      ],
    ],
  };

  beforeAll(() => {
    template = synthStack('SerEventsTest', { modelDir }, { validate: true }).template;
    // Synth takes seconds alone, minutes on a loaded machine: no speed is asserted here.
  }, 300_000);

  afterAll(() => model.remove());

  it('lets the inference function put events on the default bus only, and tells it the bus', () => {
    const putEvents = statementsFor('InferenceProcessObject').filter((s) =>
      asArray(s.Action).includes('events:PutEvents'),
    );
    expect(putEvents).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: defaultBusArn }]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Speech emotion recognition'),
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: 'default' }) },
    });
    // Nobody else publishes: the API and the deliverer have no events:PutEvents.
    for (const other of ['ApiHandler', 'DeliverCallback']) {
      expect(statementsFor(other).flatMap((s) => asArray(s.Action))).not.toContain('events:PutEvents');
    }
  });

  it('routes only events that carry a callback to the delivery function, with a DLQ for the rule too', () => {
    const queue = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) =>
      id.startsWith('Callbacks'),
    );
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['ser'],
        'detail-type': ['Prediction Succeeded', 'Prediction Failed'],
        detail: { callback: { url: [{ exists: true }] } },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [functionId('DeliverCallback'), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId('DeliverCallback') },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
    });
    // Receivers that never answer hold deliveries for ~45 s each: a cap keeps them off the API's concurrency.
    const deliverer = template.findResources('AWS::Lambda::Function')[functionId('DeliverCallback')]!;
    expect(deliverer.Properties.ReservedConcurrentExecutions).toBe(5);
  });

  it("reads webhook secrets under the stack's prefix only, and creates the default key's", () => {
    const secrets = statementsFor('DeliverCallback').filter((s) =>
      asArray(s.Action).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secrets).toHaveLength(1);
    expect(secrets[0]!.Action).toBe('secretsmanager:GetSecretValue');
    expect(JSON.stringify(secrets[0]!.Resource)).toContain(':secret:ser/SerEventsTest/webhook/*');
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: {
        'Fn::Join': ['', ['ser/SerEventsTest/webhook/', { Ref: Match.stringLikeRegexp('DefaultApiKey') }]],
      },
      GenerateSecretString: Match.objectLike({ PasswordLength: 48 }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_SECRET_PREFIX: 'ser/SerEventsTest/webhook/' }) },
    });
  });
});
