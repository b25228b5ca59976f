import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureRequestDocuments, machineExitMessage } from '../lambdas/training/job-repository.ts';
import { recordFailureByCli, Training } from '../lib/constructs/training.ts';
import { fakeModelPackage } from './helpers/fake-model-package.ts';

/** The user data's script, each CloudFormation reference in it written as `{Ref:<logical id>}`. */
function userDataScript(template: Template): string {
  const launchTemplate = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
  const parts = launchTemplate.Properties.LaunchTemplateData.UserData['Fn::Base64'][
    'Fn::Join'
  ][1] as unknown[];
  return parts
    .map((part) => (typeof part === 'string' ? part : `{Ref:${(part as { Ref: string }).Ref}}`))
    .join('');
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const model = fakeModelPackage('9.9.9');
const modelDir = model.dir;

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
  const training = new Training(stack, 'Training', { bucket, table, modelDir, ...props });
  training.bindApi(api);
  return { template: Template.fromStack(stack), stack };
}

describe('Training construct (EC2 on demand)', () => {
  afterAll(() => model.remove());

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

  it('the instance profile may exactly: read datasets/ and models/, list under them, write models/ and its own log, write training and registry records, read its source', () => {
    const statements = instanceRoleStatements();
    const actions = statements.map((s) => [s.Action].flat().sort().join(','));
    expect(actions.sort()).toEqual(
      [
        's3:GetObject',
        's3:GetObject', // the source asset: its one object
        's3:ListBucket',
        's3:PutObject',
        's3:PutObject', // the machine's log, from its exit trap
        'dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem',
        'ssm:UpdateInstanceInformation,ssmmessages:CreateControlChannel,ssmmessages:CreateDataChannel,' +
          'ssmmessages:OpenControlChannel,ssmmessages:OpenDataChannel', // Session Manager instead of SSH
      ].sort(),
    );
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().join(',') === action);
    const [data, source] = byAction('s3:GetObject').map((s) => JSON.stringify(s.Resource));
    expect(data).toContain('/datasets/*');
    expect(data).toContain('/models/*');
    // Not the CDK asset bucket's every object: the asset's own key only.
    expect(source).toMatch(/cdk-[a-z0-9]+-assets-.*\/[0-9a-f]{64}\.zip/);
    expect(byAction('s3:ListBucket')[0]!.Condition).toEqual({
      StringLike: { 's3:prefix': ['datasets/*', 'models/*'] },
    });
    const bucketArn = { 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] };
    expect(byAction('s3:PutObject').map((s) => s.Resource)).toEqual([
      { 'Fn::Join': ['', [bucketArn, '/models/*']] },
      { 'Fn::Join': ['', [bucketArn, '/training-logs/*']] },
    ]);
    expect(byAction('dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem')[0]!.Condition).toEqual({
      'ForAllValues:StringLike': {
        'dynamodb:LeadingKeys': ['TRAINING_JOB#*', 'TRAINING_LOCK', 'MODEL#*', 'MODEL_ACTIVE'],
      },
    });
    // No managed policy (AmazonSSMManagedInstanceCore would read every SSM parameter of the account).
    const instanceRole = Object.values(template.findResources('AWS::IAM::Role')).find((r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'),
    )!;
    expect(instanceRole.Properties.ManagedPolicyArns).toBeUndefined();
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

  it('user data: the hard limit first, shutdown on exit; the shell installs and runs the supervisor only', () => {
    const template_ = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const userData = JSON.stringify(template_.Properties.LaunchTemplateData.UserData);
    const order = [
      'shutdown -h +120',
      'trap on_exit EXIT',
      'npm ci',
      'npx tsx training/job-supervisor.ts',
    ].map((part) => userData.indexOf(part));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The supervisor ends the job (FAILED included) 5 minutes before the machine's hard limit.
    expect(userData).toContain('TRAINING_DEADLINE_MINUTES=115');
    expect(userData).toContain('ser-training-job-id');
    // Job records are written from bash only by the exit trap's fallback, with the repository's requests
    // (below); no hand-escaped JSON.
    expect(userData.match(/aws dynamodb/g)).toHaveLength(1);
    expect(userData).not.toContain('\\\\\\"');
  });

  it("user data: the exit trap uploads the machine's log under training-logs/<job>/, then shuts down; it ends the job through the repository's code, or its requests", () => {
    const template_ = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const userData = JSON.stringify(template_.Properties.LaunchTemplateData.UserData);
    const trap = userData.slice(userData.indexOf('on_exit() {'), userData.indexOf('trap on_exit EXIT'));

    expect(trap).toMatch(
      /aws s3 cp \/var\/log\/cloud-init-output.log \\"s3:\/\/",\{"Ref":"Bucket[0-9A-F]+"\},"\/training-logs\/\$TRAINING_JOB_ID\/cloud-init-output.log\\" --region eu-west-1/,
    );
    expect(trap.indexOf('cloud-init-output.log')).toBeLessThan(trap.indexOf('shutdown -h now'));
    // training/machine-exit.ts (the supervisor's markFailed) with node_modules; else, or when it fails, the
    // same writes from the AWS CLI, before the log upload so that the log has their answers.
    expect(trap).toContain(
      '[ -d /opt/ser/node_modules ] && (cd /opt/ser && MACHINE_EXIT_CODE=$code timeout 120 npx --no-install tsx training/machine-exit.ts) || record_failure_by_cli \\"$code\\"',
    );
    expect(trap.indexOf('record_failure_by_cli')).toBeLessThan(trap.indexOf('aws s3 cp'));
    expect(trap).not.toMatch(/TRAINING_JOB#|TRAINING_LOCK/);
    expect(userData).toMatch(/export TRAINING_JOB_ID=\\"\$JOB_ID\\" BUCKET_NAME=/);
  });

  it("user data: the trap's fallback is the repository's requests for this table and bucket, rendered by recordFailureByCli", () => {
    const script = userDataScript(template);
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket'));
    const fallback = recordFailureByCli({
      tableName: `{Ref:${tableId}}`,
      bucketName: `{Ref:${bucketId}}`,
      region: 'eu-west-1',
    });

    expect(script).toContain(fallback.join('\n'));
    expect(script.indexOf('record_failure_by_cli() {')).toBeLessThan(script.indexOf('trap on_exit EXIT'));
  });

  describe('the exit trap as synthesized, run by bash with a recording `aws`, `shutdown` and `npx`', () => {
    const jobId = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'ser-exit-trap-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /**
     * Runs the user data's trap with `/opt/ser` moved to a folder of the test's (with node_modules or
     * without) after a script that exits with `exitCode`; every `aws`, `shutdown` and `npx` call recorded,
     * `npx` answering `npxCode`.
     */
    function runTrap(options: { job: string; exitCode: number; nodeModules: boolean; npxCode?: number }) {
      const run = mkdtempSync(join(dir, 'run-'));
      const project = join(run, 'ser');
      mkdirSync(options.nodeModules ? join(project, 'node_modules') : project, { recursive: true });
      const bin = join(run, 'bin');
      mkdirSync(bin);
      for (const [command, code] of [
        ['aws', 0],
        ['shutdown', 0],
        ['npx', options.npxCode ?? 0],
      ] as const)
        writeFileSync(
          join(bin, command),
          `#!/bin/bash\nprintf '%s\\0' ${command} "$@" > "$CALLS/$(ls "$CALLS" | wc -l)"\nexit ${code}\n`,
          { mode: 0o755 },
        );
      const calls = join(run, 'calls');
      mkdirSync(calls);
      const script = userDataScript(template);
      const trap = script
        .slice(script.indexOf('record_failure_by_cli() {'), script.indexOf('trap on_exit EXIT'))
        .replaceAll('/opt/ser', project);
      const body = `set -euo pipefail\n${trap}trap on_exit EXIT\nTRAINING_JOB_ID=$1\nexit ${options.exitCode}\n`;
      spawnSync('bash', ['-c', body, 'user-data', options.job], {
        env: { PATH: `${bin}:${process.env.PATH}`, CALLS: calls },
        encoding: 'utf8',
      });
      return readdirSync(calls)
        .sort((a, b) => Number(a) - Number(b))
        .map((file) => readFileSync(join(calls, file), 'utf8').split('\0').slice(0, -1));
    }
    const dynamodbRequests = (calls: string[][]) =>
      calls
        .filter(([command, service]) => command === 'aws' && service === 'dynamodb')
        .map((args) => {
          expect(args.slice(0, 4)).toEqual(['aws', 'dynamodb', 'update-item', '--cli-input-json']);
          expect(args.slice(5)).toEqual(['--region', 'eu-west-1']);
          return JSON.parse(args[4]!) as UpdateItemCommandInput;
        });

    // Job ids spelling the old placeholders (valid ids) are filled in once, not again by the next placeholder.
    it.each([jobId, '__SER_NOW__', '__SER_EXIT_CODE__'])(
      'without node_modules: the two requests failureRequestDocuments builds for the job (%s), its exit code and the time, then the log, then the shutdown',
      (jobId) => {
        const calls = runTrap({ job: jobId, exitCode: 3, nodeModules: false });

        const requests = dynamodbRequests(calls);
        const updatedAt = requests[0]?.ExpressionAttributeValues?.[':v2']?.S ?? '';
        expect(new Date(updatedAt).toISOString()).toBe(updatedAt);
        const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
        const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket'));
        const log = `s3://{Ref:${bucketId}}/training-logs/${jobId}/cloud-init-output.log`;
        expect(requests).toEqual(
          failureRequestDocuments(`{Ref:${tableId}}`, jobId, machineExitMessage(3, log), updatedAt),
        );
        expect(calls.map((args) => args.slice(0, 3).join(' '))).toEqual([
          'aws dynamodb update-item',
          'aws dynamodb update-item',
          'aws s3 cp',
          'shutdown -h now',
        ]);
      },
    );

    it('with node_modules, training/machine-exit.ts ends the job; the requests are sent only when it fails', () => {
      const succeeded = runTrap({ job: jobId, exitCode: 1, nodeModules: true, npxCode: 0 });
      const failed = runTrap({ job: jobId, exitCode: 1, nodeModules: true, npxCode: 1 });

      expect(succeeded.map(([command]) => command)).toEqual(['npx', 'aws', 'shutdown']);
      expect(succeeded[0]).toEqual(['npx', '--no-install', 'tsx', 'training/machine-exit.ts']);
      expect(failed.map(([command]) => command)).toEqual(['npx', 'aws', 'aws', 'aws', 'shutdown']);
      expect(dynamodbRequests(failed)).toHaveLength(2);
    });

    it('a success, or a job id not of the job id form, sends no request', () => {
      const success = runTrap({ job: jobId, exitCode: 0, nodeModules: false });
      const forged = runTrap({ job: 'x"},"TableName":"other', exitCode: 1, nodeModules: false });

      expect(success.map(([command]) => command)).toEqual(['aws', 'shutdown']);
      expect(dynamodbRequests(forged)).toEqual([]);
    });
  });

  it('max run time and Spot are configurable', () => {
    const { template: custom } = synth({ maxRunTime: Duration.minutes(45), spot: true });
    const data = Object.values(custom.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties
      .LaunchTemplateData;
    expect(JSON.stringify(data.UserData)).toContain('shutdown -h +45');
    expect(data.InstanceMarketOptions).toMatchObject({ MarketType: 'spot' });
    // A Spot launch creates a Spot request too: without this grant RunInstances is refused.
    const runInstances = Object.values(custom.findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => [s.Action].flat().includes('ec2:RunInstances'));
    expect(JSON.stringify(runInstances)).toContain(':spot-instances-request/*');
    expect(JSON.stringify(template.toJSON())).not.toContain('spot-instances-request');
  });

  it('the launching function may run instances only from this template, unmodified, of its type, from a pinned version', () => {
    const templateId = Object.keys(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          TRAINING_LAUNCH_TEMPLATE_ID: { Ref: templateId },
          TRAINING_LAUNCH_TEMPLATE_VERSION: { 'Fn::GetAtt': [templateId, 'LatestVersionNumber'] },
          TRAINING_MAX_RUN_MINUTES: '120',
        },
      },
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const runInstances = statements.filter((s) => [s.Action].flat().includes('ec2:RunInstances'));
    expect(runInstances).toHaveLength(2);
    for (const s of runInstances) {
      expect(s.Effect).toBe('Allow');
      expect(JSON.stringify(s.Resource)).not.toContain('"*"');
      const condition = s.Condition as { ArnLike: Record<string, unknown>; Bool: unknown };
      expect(Object.keys(condition.ArnLike)).toEqual(['ec2:LaunchTemplate']);
      expect(JSON.stringify(condition.ArnLike)).toContain(':launch-template/');
      expect(JSON.stringify(condition.ArnLike)).toContain(templateId);
      expect(condition.Bool).toEqual({ 'ec2:IsLaunchTemplateResource': 'true' });
    }
    const onInstances = runInstances.find((s) => JSON.stringify(s.Resource).includes(':instance/*'))!;
    expect(onInstances.Condition).toMatchObject({ StringEquals: { 'ec2:InstanceType': 'c7i.large' } });
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

  it('the API function may list only under datasets/ (the empty-prefix check before a launch), read no object there, and read objects under models/ only (the package check before an activation)', () => {
    const apiRoleId = Object.keys(
      template.findResources('AWS::IAM::Role', {
        Properties: {
          AssumeRolePolicyDocument: Match.objectLike({
            Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
          }),
        },
      }),
    ).find((id) => id.startsWith('ApiServiceRole'))!;
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === apiRoleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const s3 = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')));

    expect(s3).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['datasets/*'] } },
      },
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] }, '/models/*']],
        },
      },
    ]);
  });

  it('stores and registers the bundled model at deploy time: a custom resource naming the package, whose function reads its assets and stored packages, writes models/<version>/ and the registry keys only', () => {
    expect(template.findResources('Custom::AWS')).toEqual({});
    const resources = Object.values(template.findResources('Custom::BundledModel'));
    expect(resources).toHaveLength(1);
    const properties = resources[0]!.Properties;
    expect(properties).toMatchObject({ Version: '9.9.9', Sha256: 'a'.repeat(64) });
    expect(properties.MetadataKey).toMatch(/^[0-9a-f]{64}\.json$/);
    expect(properties.OnnxKey).toMatch(/^[0-9a-f]{64}\.onnx$/);

    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('stores the bundled model package') },
    });
    expect(Object.keys(fns)).toHaveLength(1);
    const fn = Object.values(fns)[0]!;
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => !String(s.Action).startsWith('xray:'));
    const byAction = Object.fromEntries(statements.map((s) => [[s.Action].flat().join(','), s]));
    expect(Object.keys(byAction).sort()).toEqual([
      'dynamodb:GetItem,dynamodb:PutItem',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
    // Reads: the two asset objects by their keys (not the CDK asset bucket's every object) and any stored
    // package, so that a rollback's previous version can be checked under the policy being left.
    const reads = (byAction['s3:GetObject']!.Resource as unknown[]).map((r) => JSON.stringify(r));
    expect(reads).toHaveLength(3);
    expect(reads.filter((r) => r.includes(`/${properties.MetadataKey}`))).toHaveLength(1);
    expect(reads.filter((r) => r.includes(`/${properties.OnnxKey}`))).toHaveLength(1);
    expect(reads.filter((r) => r.includes('*'))).toEqual([expect.stringContaining('/models/*')]);
    // Writes its own version's prefix only.
    expect(JSON.stringify(byAction['s3:PutObject']!.Resource)).toContain('/models/9.9.9/*');
    expect(byAction['s3:ListBucket']!.Condition).toEqual({ StringLike: { 's3:prefix': ['models/*'] } });
    expect(byAction['dynamodb:GetItem,dynamodb:PutItem']!.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['MODEL#*', 'MODEL_ACTIVE'] },
    });
    // The Provider framework's function calls it (and only it).
    const functionId = Object.keys(fns)[0]!;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [functionId, 'Arn'] } } },
    });
  });
});
