import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { Training } from '../lib/constructs/training.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function synth(props: Partial<ConstructorParameters<typeof Training>[2]> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'TrainingTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = new Bucket(stack, 'Bucket');
  const table = new Table(stack, 'Table', { partitionKey: { name: 'id', type: AttributeType.STRING } });
  const api = new LambdaFunction(stack, 'Api', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => {};'),
  });
  const training = new Training(stack, 'Training', { bucket, table, ...props });
  training.bindApi(api);
  return { template: Template.fromStack(stack), stack };
}

describe('Training construct (EC2 on demand)', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = synth());
  });

  const instanceRoleStatements = (): Statement[] => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
        }),
      },
    });
    const [roleId] = Object.keys(roles);
    expect(Object.keys(roles)).toHaveLength(1);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
    );
    return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  };

  it('the instance profile may exactly: read datasets/, list under it, write models/, write training records, read its source', () => {
    const statements = instanceRoleStatements();
    const actions = statements.map((s) => [s.Action].flat().sort().join(','));
    expect(actions.sort()).toEqual(
      [
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem',
        's3:GetBucket*,s3:GetObject*,s3:List*', // the source asset (its own bucket and key)
      ].sort(),
    );
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    const byAction = (action: string) => statements.find((s) => [s.Action].flat().join(',') === action)!;
    expect(JSON.stringify(byAction('s3:GetObject').Resource)).toContain('/datasets/*');
    expect(byAction('s3:ListBucket').Condition).toEqual({ StringLike: { 's3:prefix': ['datasets/*'] } });
    expect(JSON.stringify(byAction('s3:PutObject').Resource)).toContain('/models/*');
    expect(byAction('dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem').Condition).toEqual({
      'ForAllValues:StringLike': {
        'dynamodb:LeadingKeys': ['TRAINING_JOB#*', 'TRAINING_LOCK', 'MODEL#*', 'MODEL_ACTIVE'],
      },
    });
    // Session Manager instead of SSH.
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
      }),
      ManagedPolicyArns: [
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore'],
          ],
        },
      ],
    });
  });

  it('instances terminate on shutdown, use IMDSv2 with tags, and run on a small CPU type by default', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceInitiatedShutdownBehavior: 'terminate',
        InstanceType: 'c7i.large',
        MetadataOptions: { HttpTokens: 'required', InstanceMetadataTags: 'enabled' },
        NetworkInterfaces: [Match.objectLike({ DeviceIndex: 0, AssociatePublicIpAddress: true })],
      }),
    });
  });

  it('no inbound security-group rules', () => {
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).toHaveLength(1);
    expect(groups[0]!.Properties.SecurityGroupIngress).toBeUndefined();
    expect(template.findResources('AWS::EC2::SecurityGroupIngress')).toEqual({});
  });

  it('user data: max run time first, shutdown on exit, then the same training command as developers', () => {
    const template_ = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const userData = JSON.stringify(template_.Properties.LaunchTemplateData.UserData);
    const order = ['shutdown -h +120', 'trap on_exit EXIT', 'npm ci', 'npx tsx training/job.ts'].map((part) =>
      userData.indexOf(part),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(userData).toContain('timeout 115m');
    // A failure before the job records its end is recorded by the exit trap, then the instance goes.
    expect(userData).toContain("--condition-expression '#s IN (:queued, :running)'");
    expect(userData).toMatch(/on_exit\(\) \{.*shutdown -h now/);
    expect(userData).toContain('ser-training-job-id');
  });

  it('max run time and Spot are configurable', () => {
    const { template: custom } = synth({ maxRunTime: Duration.minutes(45), spot: true });
    const data = Object.values(custom.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties
      .LaunchTemplateData;
    expect(JSON.stringify(data.UserData)).toContain('shutdown -h +45');
    expect(data.InstanceMarketOptions).toMatchObject({ MarketType: 'spot' });
  });

  it('the launching function may run instances from this template and pass only the instance role', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { TRAINING_LAUNCH_TEMPLATE_ID: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'ec2:RunInstances' }),
          Match.objectLike({
            Action: 'iam:PassRole',
            Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
          }),
        ]),
      },
    });
  });
});
