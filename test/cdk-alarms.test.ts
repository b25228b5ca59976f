import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import type { SerStackProps } from '../lib/ser-stack.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

const model = fakeModelPackage('alarms-model');
const EXISTING_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';

function synth(props: SerStackProps = {}) {
  const { stack, template } = synthStack('SerAlarmsTest', { modelDir: model.dir, ...props });
  return { stack, template, json: template.toJSON() as { Resources: Record<string, Resource> } };
}

const alarmsOf = (template: Template) =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
/** The stack's own alarm topic (the inference failure topic is not one). */
const alarmTopicIds = (template: Template) =>
  Object.keys(template.findResources('AWS::SNS::Topic')).filter((id) => id.startsWith('AlarmNotifications'));

describe('alarms and where they go', () => {
  afterAll(() => model.remove());

  it('watches the dead-letter queues, the recorder, inference errors and lasting throttles, and API 5xx', () => {
    const { template } = synth();

    const watched = alarmsOf(template).map(
      (a) => `${a.Properties.Namespace} ${a.Properties.MetricName} ×${a.Properties.EvaluationPeriods}`,
    );
    expect(watched.sort()).toEqual([
      'AWS/ApiGateway 5XXError ×1',
      'AWS/Lambda Errors ×1', // the dead-letter recorder
      'AWS/Lambda Errors ×1', // the inference function
      'AWS/Lambda Throttles ×3', // a burst is the reservation at work: 15 minutes of it is not
      'AWS/SQS ApproximateNumberOfMessagesVisible ×1',
      'AWS/SQS ApproximateNumberOfMessagesVisible ×1',
    ]);
    // API Gateway's metrics are per API name: this stack's own.
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'SerAlarmsTest' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: 'SerAlarmsTest' }],
    });
  });

  it('notifies an encrypted topic of its own, with the email subscribed, and an existing topic, on ALARM and OK', () => {
    const { template } = synth({ alarms: { email: 'ops@example.com', topicArn: EXISTING_TOPIC } });

    const [topicId] = alarmTopicIds(template);
    expect(alarmTopicIds(template)).toHaveLength(1);
    const alarms = alarmsOf(template);
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }, EXISTING_TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }, EXISTING_TOPIC]);
    }
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId },
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
  });

  it('lets CloudWatch publish to its topic: a key of its own that CloudWatch may use (the AWS-managed one it may not)', () => {
    const { template, json } = synth({ alarms: { email: 'ops@example.com' } });

    const [topicId] = alarmTopicIds(template);
    const keyRef = json.Resources[topicId!]!.Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] };
    const key = json.Resources[keyRef['Fn::GetAtt'][0]]!;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect((key.Properties.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  it('with an existing topic only, creates no topic or key of its own', () => {
    const { template } = synth({ alarms: { topicArn: EXISTING_TOPIC } });

    expect(alarmTopicIds(template)).toEqual([]);
    template.resourceCountIs('AWS::KMS::Key', 0);
    for (const alarm of alarmsOf(template)) expect(alarm.Properties.AlarmActions).toEqual([EXISTING_TOPIC]);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('AlarmTopicArn');
  });

  it('without a destination, synthesises alarms without actions and says so', () => {
    const { stack, template } = synth();

    for (const alarm of alarmsOf(template)) expect(alarm.Properties.AlarmActions).toBeUndefined();
    template.resourceCountIs('AWS::KMS::Key', 0);
    Annotations.fromStack(stack).hasWarning('/SerAlarmsTest', Match.stringLikeRegexp('alarmEmail'));
  });

  it('names the dashboard and the alarms in its outputs', () => {
    const { template, json } = synth();

    const [dashboardId] = Object.keys(template.findResources('AWS::CloudWatch::Dashboard'));
    template.hasOutput('DashboardName', { Value: { Ref: dashboardId } });
    const url = JSON.stringify(template.findOutputs('DashboardUrl'));
    expect(url).toContain('console.aws.amazon.com/cloudwatch/home?region=');
    expect(url).toContain('#dashboards/dashboard/');
    expect(url).toContain(`{"Ref":"${dashboardId}"}`);
    const command = JSON.stringify(template.findOutputs('AlarmsCommand'));
    const alarmIds = Object.keys(json.Resources).filter(
      (id) => json.Resources[id]!.Type === 'AWS::CloudWatch::Alarm',
    );
    expect(alarmIds).toHaveLength(6);
    for (const id of alarmIds) expect(command).toContain(`{"Ref":"${id}"}`);
  });
});
