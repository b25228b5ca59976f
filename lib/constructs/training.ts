import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CustomResource, Duration, IgnoreMode, Stack } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockDeviceVolume,
  type CfnLaunchTemplate,
  EbsDeviceVolumeType,
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
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DATASETS_ROOT, TRAINING_LOGS_PREFIX, trainingLogKey } from '../../lambdas/app/object-keys.ts';
import {
  BUNDLED_MODEL_FOLDER,
  METADATA_FILE,
  readModelMetadata,
  SPLITS_FILE,
} from '../../lambdas/core/model/location.ts';
import { JOB_ID_TAG } from '../../lambdas/training/ec2-launcher.ts';
import {
  failureRequestDocuments,
  JOB_ID_PATTERN,
  machineExitMessage,
  TRAINING_LEADING_KEYS,
} from '../../lambdas/training/job-repository.ts';
import { DEFAULT_TRAINING_MAX_RUN_MINUTES } from '../../lambdas/training/launcher.ts';
import {
  ACTIVE_POINTER_KEY,
  MODELS_PREFIX,
  modelPackagePrefix,
  REGISTRY_LEADING_KEYS,
  s3Location,
} from '../../lambdas/training/model-registry.ts';
import { FUNCTION_LOG_RETENTION, logGroupWithRetention, REQUEST_LOG_RETENTION } from '../log-retention.ts';
import { DEFAULT_MODEL_DIR, HANDLERS_DIR, PROJECT_ROOT } from '../paths.ts';
import { SerFunction } from './ser-function.ts';
import { itemStatement, TRAINING_AND_REGISTRY_KEYS } from './table-grants.ts';

export interface TrainingProps {
  readonly bucket: Bucket;
  readonly table: Table;
  /** The bundled model package, registered as the first version at deploy time. @default models/ser-lstm */
  readonly modelDir?: string;
  /** @default c7i.large (2 vCPU, 4 GiB: the trainer runs on one WASM thread) */
  readonly instanceType?: InstanceType;
  /** Spot capacity (a job interrupted by AWS ends FAILED when its deadline passes). @default false */
  readonly spot?: boolean;
  /**
   * After this, the instance shuts down (and terminates) whatever the job is doing.
   * @default DEFAULT_TRAINING_MAX_RUN_MINUTES (2 hours)
   */
  readonly maxRunTime?: Duration;
}

/**
 * What only the training machine knows, as placeholders in the exit trap's requests, filled in by its shell.
 * Each has an `@`, which no job id holds (JOB_ID_PATTERN), so a job id filled in is never taken for the
 * next placeholder (`__SER_NOW__` was a valid id); `@` needs no escaping in JSON, and in a bash
 * `${var//pattern/…}` pattern it is literal (only extglob's `@(…)` gives it a meaning).
 */
const MACHINE_PLACEHOLDERS = { jobId: '@@SER_JOB_ID@@', exitCode: '@@SER_EXIT_CODE@@', now: '@@SER_NOW@@' };

/** One shell word: single-quoted, a `'` inside closed, escaped and reopened. */
const shellQuote = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * The exit trap's `record_failure_by_cli <exit code>`, for when the project's code cannot run (no
 * node_modules): the job FAILED with training/machine-exit.ts's message and the lock freed, by the requests
 * the repository builds (`failureRequestDocuments`, the same conditions as the supervisor's `markFailed`)
 * sent with the AMI's AWS CLI. The job id fills in its placeholder only when it has the job id's form, so
 * it cannot break out of the JSON; the exit code and the time are digits and punctuation.
 */
export function recordFailureByCli(target: {
  tableName: string;
  bucketName: string;
  region: string;
}): string[] {
  const { jobId, exitCode, now } = MACHINE_PLACEHOLDERS;
  const error = machineExitMessage(exitCode, s3Location(target.bucketName, trainingLogKey(jobId)));
  const requests = failureRequestDocuments(target.tableName, jobId, error, now);
  return [
    'record_failure_by_cli() {',
    `  local job_id_format=${shellQuote(JOB_ID_PATTERN)} now request`,
    '  [[ $TRAINING_JOB_ID =~ $job_id_format ]] || { echo "exit trap: no job id of the expected form: not recorded"; return; }',
    // The form of Date.toISOString(), as the repository writes updatedAt.
    '  now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)',
    `  for request in ${requests.map((request) => shellQuote(JSON.stringify(request))).join(' ')}; do`,
    `    request=\${request//${jobId}/"$TRAINING_JOB_ID"}`,
    `    request=\${request//${exitCode}/"$1"}`,
    `    request=\${request//${now}/"$now"}`,
    // A refused condition (the job had ended, the lock is another job's) is reported and changes nothing.
    `    aws dynamodb update-item --cli-input-json "$request" --region ${target.region}`,
    '  done',
    '}',
  ];
}

/**
 * On-demand training on EC2: a launch template whose instance downloads the project's source (an S3
 * asset), installs Node and its dependencies, runs `training/job-supervisor.ts` (which runs the job and
 * records its end, whatever happens to it) for the job named in its tag, and terminates itself: on
 * success, on failure, and after `maxRunTime`. No SSH: no inbound rule, Session Manager for a look inside.
 * Functions are wired with `bindApi` and `bindInference`, which own their training environment and grants.
 */
export class Training extends Construct {
  readonly launchTemplate: LaunchTemplate;
  readonly role: Role;
  readonly securityGroup: SecurityGroup;
  readonly instanceType: InstanceType;
  readonly maxRunTime: Duration;
  /** The deploy-time function that stores and registers the bundled model, and the Provider that calls it. */
  readonly bundledModelRegistration: { function: SerFunction; provider: Provider; version: string };
  private readonly bucket: Bucket;
  private readonly table: Table;
  private readonly spot: boolean;
  /** `maxRunTime` in whole minutes, rounded up: the shutdown, the supervisor's and the API's job deadlines. */
  private readonly maxRunMinutes: number;

  constructor(scope: Construct, id: string, props: TrainingProps) {
    super(scope, id);
    this.bucket = props.bucket;
    this.table = props.table;
    this.maxRunTime = props.maxRunTime ?? Duration.minutes(DEFAULT_TRAINING_MAX_RUN_MINUTES);
    this.maxRunMinutes = Math.ceil(this.maxRunTime.toMinutes({ integral: false }));
    this.instanceType = props.instanceType ?? InstanceType.of(InstanceClass.C7I, InstanceSize.LARGE);

    const vpc = this.createNetwork();
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'SER training instances: no inbound (Session Manager, not SSH)',
      allowAllOutbound: true,
    });
    this.role = this.createInstanceRole();
    const userData = this.createUserData();
    this.spot = props.spot ?? false;
    this.launchTemplate = this.createLaunchTemplate(vpc, userData, this.spot);
    this.bundledModelRegistration = this.registerBundledModel(props.modelDir ?? DEFAULT_MODEL_DIR);
  }

  /** Public subnet, no NAT: the instance only talks out (S3, DynamoDB, dnf, npm), nobody talks in. */
  private createNetwork(): Vpc {
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'training', subnetType: SubnetType.PUBLIC }],
    });
    // What the instances sent and were sent, kept as long as the API's access logs.
    vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(
        logGroupWithRetention(this, 'FlowLogs', REQUEST_LOG_RETENTION),
      ),
    });
    return vpc;
  }

  /** Reads datasets/ and model packages, writes models/ and the training and registry items only. */
  private createInstanceRole(): Role {
    const { bucket, table } = this;
    const role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'SER training: read the datasets, write models/ and the training records',
    });
    // Session Manager (a look inside without SSH) needs only these; the managed AmazonSSMManagedInstanceCore
    // would also let a job's npm dependencies read every SSM parameter of the account.
    role.addToPolicy(
      new PolicyStatement({
        actions: [
          'ssm:UpdateInstanceInformation',
          ...['CreateControlChannel', 'CreateDataChannel', 'OpenControlChannel', 'OpenDataChannel'].map(
            (action) => `ssmmessages:${action}`,
          ),
        ],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${DATASETS_ROOT}*`), bucket.arnForObjects(`${MODELS_PREFIX}*`)],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DATASETS_ROOT}*`, `${MODELS_PREFIX}*`] } },
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${MODELS_PREFIX}*`)],
      }),
    );
    // The machine's own log, uploaded by its exit trap (createUserData): nowhere else.
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${TRAINING_LOGS_PREFIX}*`)],
      }),
    );
    role.addToPolicy(
      itemStatement(table, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], {
        only: TRAINING_AND_REGISTRY_KEYS,
      }),
    );
    bucket.encryptionKey?.grantEncryptDecrypt(role);
    return role;
  }

  /**
   * The shell only sets the hard limit, installs, runs the supervisor and shuts down: the supervisor
   * records the job's end (FAILED included). Whatever ends the shell, its exit trap uploads the machine's
   * log, and ends a job the supervisor could not (see exitTrap).
   */
  private createUserData(): UserData {
    const source = this.sourceAsset();
    const userData = UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      // The limit first: whatever happens next, the instance is gone after maxRunTime.
      `shutdown -h +${this.maxRunMinutes}`,
      ...this.exitTrap(),
      "IMDS_TOKEN=$(curl -sfX PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 600')",
      `JOB_ID=$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/tags/instance/${JOB_ID_TAG})`,
      // Exported: the supervisor and the exit trap's script read them.
      `export TRAINING_JOB_ID="$JOB_ID" BUCKET_NAME=${this.bucket.bucketName} TABLE_NAME=${this.table.tableName} AWS_REGION=${Stack.of(this).region}`,
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
      // The supervisor stops the job 5 minutes before the hard limit, so its end is recorded first.
      `TRAINING_DEADLINE_MINUTES=${Math.max(1, this.maxRunMinutes - 5)} npx tsx training/job-supervisor.ts`,
    );
    return userData;
  }

  /**
   * Runs on any exit of the user data, before the shutdown. An install or download that fails leaves no
   * trace but cloud-init's log: it goes to `training-logs/<job>/` (trainingLogKey), which the job record
   * names. An error exit may also have left the job QUEUED or RUNNING (the supervisor never ran, or was
   * killed): training/machine-exit.ts ends it FAILED with the repository's own code, when `npm ci` got as
   * far as installing it; else (or when that fails) the AWS CLI sends the same two writes
   * (recordFailureByCli), so the lock is free now, not at the job's deadline.
   */
  private exitTrap(): string[] {
    const region = Stack.of(this).region;
    const log = `s3://${this.bucket.bucketName}/${trainingLogKey('$TRAINING_JOB_ID')}`;
    return [
      ...recordFailureByCli({ tableName: this.table.tableName, bucketName: this.bucket.bucketName, region }),
      'on_exit() {',
      '  code=$?',
      // Nothing in here may stop the shutdown: no exit on an error or an unset variable.
      '  set +eu',
      // Unset when the instance metadata could not be read: no job to name.
      '  if [ -n "$TRAINING_JOB_ID" ]; then',
      '    if [ "$code" -ne 0 ]; then',
      '      [ -d /opt/ser/node_modules ] && (cd /opt/ser && MACHINE_EXIT_CODE=$code timeout 120 npx --no-install tsx training/machine-exit.ts) || record_failure_by_cli "$code"',
      '    fi',
      `    aws s3 cp /var/log/cloud-init-output.log "${log}" --region ${region} --only-show-errors`,
      '  fi',
      '  shutdown -h now',
      '}',
      'trap on_exit EXIT',
    ];
  }

  /** The project's source for the instance (an S3 asset), readable by the instance role: that one object. */
  private sourceAsset(): Asset {
    const source = new Asset(this, 'Source', {
      path: PROJECT_ROOT,
      ignoreMode: IgnoreMode.GIT,
      exclude: [
        'node_modules',
        '.git',
        'cdk.out',
        '.ser-local*',
        'test-output',
        'training/.cache',
        'training/.scratch',
        // Only the bundled package: "if-better" re-scores it when it is the active model.
        'models/*',
        `!${BUNDLED_MODEL_FOLDER}`,
        'test',
        'docs',
        'coverage',
        '*.log',
      ],
    });
    // The one object, not aws-cdk-lib's grantRead (Get*/List* on the whole CDK asset bucket).
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [source.bucket.arnForObjects(source.s3ObjectKey)],
      }),
    );
    return source;
  }

  private createLaunchTemplate(vpc: Vpc, userData: UserData, spot: boolean): LaunchTemplate {
    const template = new LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: this.instanceType,
      machineImage: MachineImage.latestAmazonLinux2023(),
      role: this.role,
      userData,
      instanceInitiatedShutdownBehavior: InstanceInitiatedShutdownBehavior.TERMINATE,
      requireImdsv2: true,
      // The root volume holds the dataset and the model while training: encrypted at rest (AWS-managed key).
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: EbsDeviceVolumeType.GP3 }),
        },
      ],
      instanceMetadataTags: true,
      ...(spot ? { spotOptions: { interruptionBehavior: SpotInstanceInterruption.TERMINATE } } : {}),
    });
    // The subnet and group go on the network interface, so RunInstances needs only the template.
    const cfnTemplate = template.node.defaultChild as CfnLaunchTemplate;
    cfnTemplate.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', [
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: true,
        SubnetId: vpc.publicSubnets[0]!.subnetId,
        Groups: [this.securityGroup.securityGroupId],
      },
    ]);
    return template;
  }

  /**
   * The bundled model at deploy time: a custom resource (our function, behind aws-cdk-lib's Provider)
   * stores its package under `models/<version>/`, read from file assets (metadata.json, the ONNX, and
   * splits.json when the package has one), and registers it there, by
   * the code `npm start` runs (lambdas/training/bundled-model.ts), so every registered version can be
   * loaded again and the inference function never writes to the table. The properties name the package's
   * objects and its version: an update's old properties tell the handler what the deployment before
   * shipped, so a stack rollback (an update back to them) puts the earlier version back if it was still
   * active; a version registered with another sha256 fails the deployment with both hashes.
   */
  private registerBundledModel(modelDir: string) {
    const metadata = readModelMetadata(modelDir);
    const asset = (id: string, file: string) => new Asset(this, id, { path: join(modelDir, file) });
    const metadataAsset = asset('BundledModelMetadata', METADATA_FILE);
    const onnxAsset = asset('BundledModelOnnx', metadata.onnxFile);
    // Stored with the package: a training job's comparison leaves out the clips this version trained on.
    const splitsAsset = existsSync(join(modelDir, SPLITS_FILE))
      ? asset('BundledModelSplits', SPLITS_FILE)
      : undefined;
    const assets = [metadataAsset, onnxAsset, ...(splitsAsset ? [splitsAsset] : [])];
    const fn = this.createRegistrationFunction(assets, metadata.version);
    const provider = new Provider(this, 'BundledModelProvider', {
      onEventHandler: fn,
      logGroup: logGroupWithRetention(this, 'BundledModelProviderLogs', FUNCTION_LOG_RETENTION),
    });
    new CustomResource(this, 'BundledModel', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::BundledModel',
      properties: {
        // Version and sha256 show what changed in a diff; the handler reads both from the package itself,
        // and an update's OldResourceProperties.Version as the version the deployment before shipped.
        Version: metadata.version,
        Sha256: metadata.sha256,
        AssetBucket: metadataAsset.s3BucketName,
        MetadataKey: metadataAsset.s3ObjectKey,
        OnnxKey: onnxAsset.s3ObjectKey,
        ...(splitsAsset ? { SplitsKey: splitsAsset.s3ObjectKey } : {}),
      },
    });
    return { function: fn, provider, version: metadata.version };
  }

  /**
   * Reads the package's asset objects, lists and reads under `models/`, writes under its own
   * `models/<version>/` only, and the registry's items.
   */
  private createRegistrationFunction(assets: Asset[], version: string): SerFunction {
    const fn = new SerFunction(this, 'RegisterBundledModel', {
      entry: `${HANDLERS_DIR}register-bundled-model.ts`,
      description: 'Deploy time: stores the bundled model package under models/<version>/ and registers it',
      timeout: Duration.minutes(1),
      environment: { BUCKET_NAME: this.bucket.bucketName, TABLE_NAME: this.table.tableName },
    });
    // The package's two assets, and any stored model package: it reads (and lists) every version but
    // writes only its own, because a stack rollback runs this function with the previous version's
    // properties, possibly before IAM has the previous policy in force, and a read scoped to one version
    // would fail that rollback. The packages are readable by the inference and training roles anyway.
    // The listing tells a package already stored (refused if its metadata.json is another) from one with
    // objects missing (stored again).
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [
          ...assets.map((a) => a.bucket.arnForObjects(a.s3ObjectKey)),
          this.bucket.arnForObjects(`${MODELS_PREFIX}*`),
        ],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${modelPackagePrefix(version)}*`)],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${MODELS_PREFIX}*`] } },
      }),
    );
    fn.addToRolePolicy(
      itemStatement(this.table, ['dynamodb:GetItem', 'dynamodb:PutItem'], { only: REGISTRY_LEADING_KEYS }),
    );
    this.bucket.encryptionKey?.grantEncryptDecrypt(fn);
    return fn;
  }

  /** ARNs of RunInstances' resources in this account and region. */
  private ec2Arn(resource: string): string {
    const stack = Stack.of(this);
    return `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${resource}`;
  }

  /**
   * RunInstances only through this launch template, with nothing of it overridden
   * (`ec2:IsLaunchTemplateResource`), this instance type only, and passing this role only.
   */
  private grantLaunch(fn: LambdaFunction): void {
    const stack = Stack.of(this);
    const templateArn = this.ec2Arn(`launch-template/${this.launchTemplate.launchTemplateId}`);
    const fromTemplate = {
      ArnLike: { 'ec2:LaunchTemplate': templateArn },
      Bool: { 'ec2:IsLaunchTemplateResource': 'true' },
    };
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [this.ec2Arn('instance/*')],
        conditions: { ...fromTemplate, StringEquals: { 'ec2:InstanceType': this.instanceType.toString() } },
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [
          templateArn,
          this.ec2Arn('volume/*'),
          this.ec2Arn('network-interface/*'),
          this.ec2Arn('subnet/*'),
          this.ec2Arn(`security-group/${this.securityGroup.securityGroupId}`),
          `arn:${stack.partition}:ec2:${stack.region}::image/*`,
        ],
        conditions: fromTemplate,
      }),
    );
    // A Spot launch also creates a Spot request, a resource of its own that the template conditions above
    // do not describe; the instance it makes still needs the template.
    if (this.spot)
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['ec2:RunInstances'],
          resources: [this.ec2Arn('spot-instances-request/*')],
        }),
      );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [this.ec2Arn('instance/*'), this.ec2Arn('volume/*'), this.ec2Arn('network-interface/*')],
        conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    );
  }

  /**
   * The API function: lists a job's dataset prefix, starts jobs from the pinned template version, writes
   * job records, the lock and the active pointer (its GetItem/Query and the prediction records' PutItem
   * come from the API construct), and looks at a version's package before activating it.
   */
  bindApi(fn: LambdaFunction): void {
    fn.addEnvironment('TRAINING_LAUNCH_TEMPLATE_ID', this.launchTemplate.launchTemplateId!);
    fn.addEnvironment('TRAINING_LAUNCH_TEMPLATE_VERSION', this.launchTemplate.latestVersionNumber);
    fn.addEnvironment('TRAINING_MAX_RUN_MINUTES', String(this.maxRunMinutes));
    this.grantLaunch(fn);
    fn.addToRolePolicy(itemStatement(this.table, ['dynamodb:UpdateItem'], { only: TRAINING_LEADING_KEYS }));
    // Creates jobs, takes the lock, and activates a version (the pointer); never a model version's record.
    fn.addToRolePolicy(
      itemStatement(this.table, ['dynamodb:PutItem'], {
        only: [...TRAINING_LEADING_KEYS, ACTIVE_POINTER_KEY],
      }),
    );
    // A job's dataset prefix is looked at (one listing, no object read) before any instance starts.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${DATASETS_ROOT}*`] } },
      }),
    );
    // Activation reads a package's metadata.json and hashes its ONNX: a version whose objects are gone or
    // not the registered bytes is refused. No listing of models/: a missing object answers 403.
    this.grantModelRead(fn);
  }

  /** The inference function: follows the registry (GetItem from its own grant) and reads model packages. */
  bindInference(fn: LambdaFunction, options: { refreshSec?: number } = {}): void {
    // Unset, the function's own default applies (lambdas/training/active-model-config.ts).
    if (options.refreshSec !== undefined) fn.addEnvironment('MODEL_REFRESH_SEC', String(options.refreshSec));
    this.grantModelRead(fn);
  }

  /** GetObject on models/* only (grantRead would add List* and GetBucket*): the registry says which keys exist. */
  private grantModelRead(fn: LambdaFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${MODELS_PREFIX}*`)],
      }),
    );
  }
}
