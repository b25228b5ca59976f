import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import {
  type CfnLaunchTemplate,
  FlowLogDestination,
  InstanceClass,
  InstanceInitiatedShutdownBehavior,
  InstanceSize,
  InstanceType,
  LaunchTemplate,
  MachineImage,
  SecurityGroup,
  SpotInstanceInterruption,
  SubnetType,
  UserData,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { JOB_ID_TAG } from '../../lambdas/training/ec2-launcher.ts';
import { PROJECT_ROOT } from '../paths.ts';

export interface TrainingProps {
  readonly bucket: Bucket;
  readonly table: Table;
  /** What a job may read. @default 'datasets/' */
  readonly datasetPrefix?: string;
  /** @default c7i.large (2 vCPU, 4 GiB: the trainer runs on one WASM thread) */
  readonly instanceType?: InstanceType;
  /** Spot capacity (a job interrupted by AWS ends FAILED when its record is not updated). @default false */
  readonly spot?: boolean;
  /** After this, the instance shuts down (and terminates) whatever the job is doing. @default 2 hours */
  readonly maxRunTime?: Duration;
}

export const MODELS_PREFIX = 'models/';
/** The registry and job items the instance may write (the table is shared with predictions). */
const TRAINING_LEADING_KEYS = ['TRAINING_JOB#*', 'TRAINING_LOCK', 'MODEL#*', 'MODEL_ACTIVE'];

/**
 * On-demand training on EC2: a launch template whose instance downloads the project's source (an S3
 * asset), installs Node and its dependencies, runs `training/job.ts` (which runs `npm run train`, the
 * developers' command) for the job named in its tag, and terminates itself: on success, on failure, and
 * after `maxRunTime`. No SSH: no inbound rule, Session Manager for a look inside.
 */
export class Training extends Construct {
  readonly launchTemplate: LaunchTemplate;
  readonly role: Role;
  readonly securityGroup: SecurityGroup;
  private readonly bucket: Bucket;
  private readonly table: Table;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id);
    const datasetPrefix = props.datasetPrefix ?? 'datasets/';
    const maxRunTime = props.maxRunTime ?? Duration.hours(2);
    const { bucket, table } = props;
    this.bucket = bucket;
    this.table = table;

    // Public subnet, no NAT: the instance only talks out (S3, DynamoDB, dnf, npm), nobody talks in.
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'training', subnetType: SubnetType.PUBLIC }],
    });
    // What the instances sent and were sent, kept as long as the API's access logs.
    vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, 'FlowLogs', {
          retention: RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
    });
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'SER training instances: no inbound (Session Manager, not SSH)',
      allowAllOutbound: true,
    });

    this.role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'SER training: read the datasets, write models/ and the training records',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${datasetPrefix}*`)],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${datasetPrefix}*`] } },
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${MODELS_PREFIX}*`)],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': TRAINING_LEADING_KEYS } },
      }),
    );
    bucket.encryptionKey?.grantEncryptDecrypt(this.role);

    const source = new Asset(this, 'Source', {
      path: PROJECT_ROOT,
      exclude: [
        'node_modules',
        '.git',
        'cdk.out',
        '.ser-local*',
        'test-output',
        'training/.cache',
        'training/.scratch',
        'models',
        'test',
        'docs',
        'coverage',
        '*.log',
      ],
    });
    source.grantRead(this.role);

    const maxMinutes = Math.ceil(maxRunTime.toMinutes({ integral: false }));
    // The job itself stops a little earlier, so its end is recorded before the hard shutdown.
    const jobMinutes = Math.max(1, maxMinutes - 5);
    const userData = UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      // The limit first: whatever happens next, the instance is gone after maxRunTime.
      `shutdown -h +${maxMinutes}`,
      // On any failure before training/job.ts records the end (npm ci, timeout, crash), the job record says
      // so, then the instance goes; the conditional update leaves a recorded end alone.
      'on_exit() {',
      '  code=$?',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a JS template
      '  if [ "$code" -ne 0 ] && [ -n "${JOB_ID:-}" ]; then',
      `    aws dynamodb update-item --region ${Stack.of(this).region} --table-name ${table.tableName} \\`,
      `      --key "{\\"id\\":{\\"S\\":\\"TRAINING_JOB#$JOB_ID\\"}}" \\`,
      `      --update-expression 'SET #s = :failed, #e = :error, updatedAt = :now' \\`,
      `      --condition-expression '#s IN (:queued, :running)' \\`,
      `      --expression-attribute-names '{"#s":"status","#e":"error"}' \\`,
      `      --expression-attribute-values "{\\":failed\\":{\\"S\\":\\"FAILED\\"},\\":queued\\":{\\"S\\":\\"QUEUED\\"},\\":running\\":{\\"S\\":\\"RUNNING\\"},\\":now\\":{\\"S\\":\\"$(date -u +%FT%TZ)\\"},\\":error\\":{\\"S\\":\\"The training instance stopped (exit code $code) before the job finished; see its console output\\"}}" || true`,
      '  fi',
      '  shutdown -h now',
      '}',
      'trap on_exit EXIT',
      "IMDS_TOKEN=$(curl -sfX PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 600')",
      `JOB_ID=$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/tags/instance/${JOB_ID_TAG})`,
      'dnf install -y nodejs22 nodejs22-npm unzip',
      'alternatives --set node /usr/bin/node-22 || true',
      'mkdir -p /opt/ser',
    );
    const zip = userData.addS3DownloadCommand({
      bucket: source.bucket,
      bucketKey: source.s3ObjectKey,
      localFile: '/opt/ser-source.zip',
    });
    userData.addCommands(
      `unzip -q ${zip} -d /opt/ser`,
      'cd /opt/ser',
      'ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund',
      [
        `TRAINING_JOB_ID="$JOB_ID" BUCKET_NAME=${bucket.bucketName} TABLE_NAME=${table.tableName}`,
        `AWS_REGION=${Stack.of(this).region} timeout ${jobMinutes}m npx tsx training/job.ts`,
      ].join(' '),
    );

    this.launchTemplate = new LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: props.instanceType ?? InstanceType.of(InstanceClass.C7I, InstanceSize.LARGE),
      machineImage: MachineImage.latestAmazonLinux2023(),
      role: this.role,
      userData,
      instanceInitiatedShutdownBehavior: InstanceInitiatedShutdownBehavior.TERMINATE,
      requireImdsv2: true,
      instanceMetadataTags: true,
      ...(props.spot ? { spotOptions: { interruptionBehavior: SpotInstanceInterruption.TERMINATE } } : {}),
    });
    // The subnet and group go on the network interface, so RunInstances needs only the template.
    const cfnTemplate = this.launchTemplate.node.defaultChild as CfnLaunchTemplate;
    cfnTemplate.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', [
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: true,
        SubnetId: vpc.publicSubnets[0]!.subnetId,
        Groups: [this.securityGroup.securityGroupId],
      },
    ]);

    new CfnOutput(this, 'LaunchTemplateId', { value: this.launchTemplate.launchTemplateId! });
  }

  /** The function that starts jobs: RunInstances from this template only, and passing this role only. */
  grantLaunch(fn: LambdaFunction): void {
    const stack = Stack.of(this);
    const arn = (resource: string) =>
      `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${resource}`;
    fn.addEnvironment('TRAINING_LAUNCH_TEMPLATE_ID', this.launchTemplate.launchTemplateId!);
    fn.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [
          arn(`launch-template/${this.launchTemplate.launchTemplateId}`),
          arn('instance/*'),
          arn('volume/*'),
          arn('network-interface/*'),
          arn('subnet/*'),
          arn(`security-group/${this.securityGroup.securityGroupId}`),
          `arn:${stack.partition}:ec2:${stack.region}::image/*`,
        ],
      }),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [arn('instance/*'), arn('volume/*'), arn('network-interface/*')],
        conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      }),
    );
    fn.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    );
  }

  /** The inference function: reads model packages and registers the bundled model at cold start. */
  bindInference(fn: LambdaFunction, options: { refreshSec?: number } = {}): void {
    fn.addEnvironment('MODEL_REFRESH_SEC', String(options.refreshSec ?? 60));
    // GetObject only (grantRead would add List* and GetBucket*): the registry says which keys exist.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${MODELS_PREFIX}*`)],
      }),
    );
    this.table.grant(fn, 'dynamodb:PutItem');
  }

  /** The API function: job records, the lock and the active pointer are updated, not only put. */
  bindApi(fn: LambdaFunction): void {
    this.grantLaunch(fn);
    this.table.grant(fn, 'dynamodb:UpdateItem');
  }
}
