import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../lambdas/training/model-registry.ts';
import { Training } from '../lib/constructs/training.ts';
import { handlerEnvironment, startTestAws, type TestAws } from './helpers/local-aws.ts';
import { copyModelPackage, type ModelPackageCopy } from './helpers/model-package-copy.ts';

const run = promisify(execFile);

interface Synthesized {
  outdir: string;
  /** The registration function's bundle folder. */
  functionDir: string;
  /** The custom resource's properties (the package's three asset keys among them). */
  properties: Record<string, string>;
}

/** A real synth of the Training construct with bundling (esbuild locally) for `modelDir`'s package. */
async function synthesize(modelDir: string): Promise<Synthesized> {
  const outdir = await mkdtemp(join(tmpdir(), 'ser-cdk-bundled-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'BundledModelAsset', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const table = new Table(stack, 'Table', { partitionKey: { name: 'id', type: AttributeType.STRING } });
  new Training(stack, 'Training', { bucket: new Bucket(stack, 'Bucket'), table, modelDir });
  const template = Template.fromStack(stack);
  app.synth();
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('stores the bundled model package') },
    }),
  )[0]!;
  const properties = Object.values(template.findResources('Custom::BundledModel'))[0]!.Properties;
  return {
    outdir,
    functionDir: join(outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`),
    properties,
  };
}

/**
 * The deploy-time registration as CloudFormation runs it, short of AWS: the synthesized function's bundle
 * in a bare Node process, given the custom-resource event the Provider framework passes on, with the
 * package's file assets published to s3rver (standing in for the CDK asset bucket) and dynalite.
 */
describe('the bundled-model custom resource, as synthesized', () => {
  let aws: TestAws;
  let shipped: ModelPackageCopy;
  let other: ModelPackageCopy;
  let later: ModelPackageCopy;
  let deployments: Synthesized[];

  beforeAll(async () => {
    shipped = copyModelPackage('9.9.9');
    other = copyModelPackage('9.9.9', { otherBytes: true });
    later = copyModelPackage('10.0.0');
    deployments = [await synthesize(shipped.dir), await synthesize(other.dir), await synthesize(later.dir)];
    aws = await startTestAws();
    // What `cdk deploy` publishes before the stack is updated: each file asset under its key.
    for (const { outdir, properties } of deployments)
      for (const key of [properties.MetadataKey!, properties.OnnxKey!, properties.SplitsKey!])
        await aws.s3.send(
          new PutObjectCommand({
            Bucket: aws.bucket,
            Key: key,
            Body: readFileSync(join(outdir, `asset.${key}`)),
          }),
        );
  }, 300_000);

  afterAll(async () => {
    await aws?.close();
    for (const d of deployments ?? []) await rm(d.outdir, { recursive: true, force: true });
    shipped?.remove();
    other?.remove();
    later?.remove();
  });

  const propertiesOf = (deployment: Synthesized) => ({ ...deployment.properties, AssetBucket: aws.bucket });
  /**
   * Runs the handler on one event in a fresh `node`: its answer, or the error it failed with. An update
   * carries the properties of the deployment before (`previous`) as OldResourceProperties.
   */
  async function invoke(deployment: Synthesized, requestType: string, previous?: Synthesized) {
    const event = {
      RequestType: requestType,
      PhysicalResourceId: 'bundled-model-9.9.9',
      ResourceProperties: propertiesOf(deployment),
      ...(previous ? { OldResourceProperties: propertiesOf(previous) } : {}),
    };
    const runner = join(deployment.outdir, 'invoke.mjs');
    await writeFile(
      runner,
      [
        `const { handler } = await import(${JSON.stringify(join(deployment.functionDir, 'index.mjs'))});`,
        `const context = { functionName: 'registration', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60000 };`,
        'const answer = await handler(',
        `  ${JSON.stringify(event)}, context).then((r) => ({ ok: r }), (e) => ({ error: e.message }));`,
        `process.stdout.write('\\nRESULT ' + JSON.stringify(answer));`,
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, [runner], {
      cwd: deployment.functionDir,
      env: { PATH: process.env.PATH, ...handlerEnvironment(aws) },
    });
    return JSON.parse(stdout.slice(stdout.lastIndexOf('\nRESULT ') + 8));
  }

  it('create stores and registers the package and activates it; the same version with another sha256 fails naming both; delete keeps the registry', async () => {
    const registry = new ModelRegistry(aws.doc, aws);

    const created = await invoke(deployments[0]!, 'Create');
    const conflicting = await invoke(deployments[1]!, 'Update', deployments[0]);
    const deleted = await invoke(deployments[0]!, 'Delete');

    expect(created).toEqual({
      ok: { PhysicalResourceId: 'bundled-model-9.9.9', Data: { Version: '9.9.9', Active: '9.9.9' } },
    });
    expect(await registry.get('9.9.9')).toMatchObject({
      source: 'bundled',
      sha256: shipped.sha256,
      location: `s3://${aws.bucket}/models/9.9.9/`,
    });
    const splits = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: 'models/9.9.9/splits.json' }),
    );
    expect(await splits.Body!.transformToString()).toBe(
      readFileSync(join(shipped.dir, 'splits.json'), 'utf8'),
    );
    expect(conflicting.error).toContain(
      `Model version 9.9.9 is already registered with another sha256: the registry has ${shipped.sha256}, ` +
        `this package ${other.sha256}.`,
    );
    expect(deleted).toEqual({ ok: { PhysicalResourceId: 'bundled-model-9.9.9' } });
    expect((await registry.getActive())?.version).toBe('9.9.9');
    expect((await registry.get('9.9.9'))?.sha256).toBe(shipped.sha256);
  });

  it('an update activates the new version; the rollback (an update back, the new properties as the old) reverts the pointer; the same version again changes nothing', async () => {
    // Prepare: 9.9.9 deployed and active (again, if the first case ran: a Create of a stored package is a no-op)
    const registry = new ModelRegistry(aws.doc, aws);
    const [ninePointNine, , ten] = deployments;
    expect((await invoke(ninePointNine!, 'Create')).ok?.Data).toEqual({ Version: '9.9.9', Active: '9.9.9' });

    // Act
    const updated = await invoke(ten!, 'Update', ninePointNine);
    const rolledBack = await invoke(ninePointNine!, 'Update', ten);
    const pointer = await registry.getActive();
    const again = await invoke(ninePointNine!, 'Update', ninePointNine);

    // Assess
    expect(updated.ok?.Data).toEqual({ Version: '10.0.0', Active: '10.0.0' });
    expect(rolledBack.ok?.Data).toEqual({ Version: '9.9.9', Active: '9.9.9' });
    expect(again.ok?.Data).toEqual({ Version: '9.9.9', Active: '9.9.9' });
    expect(await registry.getActive()).toEqual(pointer);
  });
});
