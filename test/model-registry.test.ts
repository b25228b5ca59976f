import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../lambdas/app/domain-error.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { MAX_ONNX_BYTES } from '../lambdas/core/model/checksum.ts';
import { BUNDLED_MODEL_DIR, createPredictor } from '../lambdas/core/predict.ts';
import { decideActivation, type ModelComparison } from '../lambdas/training/activation-policy.ts';
import { createActiveModelProvider, UNAVAILABLE_RETRY_MS } from '../lambdas/training/active-model.ts';
import { publishBundledModel, readPackageFolder } from '../lambdas/training/bundled-model.ts';
import { createS3DatasetPrefixes } from '../lambdas/training/dataset-prefix.ts';
import {
  ConcurrentJobError,
  type TrainingJob,
  TrainingJobRepository,
} from '../lambdas/training/job-repository.ts';
import { createTrainingService } from '../lambdas/training/job-service.ts';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import { createS3ModelPackages } from '../lambdas/training/model-packages.ts';
import { ModelRegistry, ModelVersionConflictError } from '../lambdas/training/model-registry.ts';
import { scanDataset } from '../training/datasets.ts';
import { fetchActivePackage } from '../training/job.ts';
import { compareModels } from '../training/model-comparison.ts';
import { startTestAws, type TestAws } from './helpers/local-aws.ts';
import { copyModelPackage, type ModelPackageCopy } from './helpers/model-package-copy.ts';

const HELD_OUT = resolve(import.meta.dirname, 'fixtures', 'tess-heldout');
const f1 = (macroF1: number) => ({ 'tess-random': { accuracy: macroF1, macroF1, support: 10 } });

describe('activation policy: "if-better" decides on both models scored on the same clips', () => {
  const comparison = (candidate: number, active?: number): ModelComparison => ({
    testSet: 'heldout-speakers',
    speakerIndependent: true,
    clips: 40,
    excludedSeenByActive: 0,
    candidate: { version: 'new', macroF1: candidate, accuracy: candidate },
    ...(active === undefined
      ? { activeError: 'its package is gone' }
      : { active: { version: 'old', macroF1: active, accuracy: active } }),
  });

  it('activates only a strictly better macro-F1 on the same clips, and says why either way', () => {
    expect(decideActivation('if-better', comparison(0.9, 0.8), 'old', true)).toEqual({
      activate: true,
      reason:
        "macro-F1 0.9000 > 0.8000 of old on the same 40 clips of the candidate's heldout-speakers test set",
    });
    expect(decideActivation('if-better', comparison(0.8, 0.8), 'old', true).activate).toBe(false);
    expect(decideActivation('always', comparison(0.1, 0.8), 'old', true).activate).toBe(true);
    expect(decideActivation('never', comparison(1, 0.1), 'old', true).activate).toBe(false);
  });

  it('never compares with a stored number: an active model it cannot score stays; nothing active: activate', () => {
    const unscored = decideActivation('if-better', comparison(1), 'old', true);
    expect(unscored.activate).toBe(false);
    expect(unscored.reason).toMatch(/could not be scored \(its package is gone\)/);
    expect(decideActivation('if-better', { ...comparison(1, 0), clips: 0 }, 'old', true).activate).toBe(
      false,
    );
    expect(decideActivation('if-better', undefined, undefined, true).activate).toBe(true);
  });

  it('never activates a candidate without test metrics, not even with "always" or nothing active', () => {
    for (const mode of ['always', 'if-better', 'never'] as const) {
      expect(decideActivation(mode, undefined, undefined, false)).toEqual({
        activate: false,
        reason: 'the candidate has no test metrics (no test clip): never activated',
      });
    }
  });
});

describe('model registry and training jobs in the predictions table (dynalite)', () => {
  let aws: TestAws;
  let registry: ModelRegistry;
  let jobs: TrainingJobRepository;

  const job = (id: string, at = new Date()): TrainingJob => ({
    id,
    status: 'QUEUED',
    dataset: 'datasets/tess/',
    epochs: 1,
    augment: false,
    activate: 'if-better',
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
  });

  beforeAll(async () => {
    aws = await startTestAws();
    registry = new ModelRegistry(aws.doc, aws);
    jobs = new TrainingJobRepository(aws.doc, { tableName: aws.tableName, staleAfterMs: 60_000 });
  });

  afterAll(async () => {
    await aws?.close();
  });

  it('the bundled model is the first version and stays registered; activation keeps the previous version', async () => {
    const bundled = {
      version: '1.0.0',
      sha256: 'a'.repeat(64),
      metrics: f1(0.9),
      createdAt: '2026-01-01T00:00:00Z',
      location: 's3://b/models/1.0.0/',
    };
    const stored = { isStored: async () => true, store: async () => {} };
    await registry.ensureBundled(bundled, stored, undefined);
    await registry.register({
      ...bundled,
      version: '2.0.0',
      sha256: 'b'.repeat(64),
      source: 'trained',
      location: 's3://b/models/2.0.0/',
    });
    await registry.activate('2.0.0');
    await registry.ensureBundled(bundled, stored, '1.0.0'); // the next deploy does not take the pointer back

    expect(await registry.getActive()).toMatchObject({ version: '2.0.0', previousVersion: '1.0.0' });
    expect((await registry.list()).map((m) => [m.version, m.source])).toEqual([
      ['2.0.0', 'trained'],
      ['1.0.0', 'bundled'],
    ]);
    await expect(
      registry.register({ ...bundled, source: 'bundled', sha256: 'c'.repeat(64) }),
    ).rejects.toThrow(/already registered with another sha256/);
    // Registry items never show up as predictions.
    const predictions = new PredictionRepository(aws.doc, {
      tableName: aws.tableName,
      recordTtlDays: 1,
      processingLeaseSec: 60,
    });
    expect((await predictions.list({ limit: 100 })).items).toEqual([]);
  });

  it('one job at a time: a second lock is refused until the first job ends or passes its deadline', async () => {
    await jobs.create(job('job-a'));
    await jobs.acquireLock('job-a');
    await expect(jobs.acquireLock('job-b')).rejects.toBeInstanceOf(ConcurrentJobError);

    await jobs.update('job-a', { status: 'FAILED', error: 'x' });
    await jobs.acquireLock('job-b');
    await jobs.update('job-a', { status: 'RUNNING' }).catch(() => {}); // an ended job never changes again
    expect((await jobs.get('job-a'))?.status).toBe('FAILED');

    // job-b's machine is gone: its hard limit passed a minute ago without a recorded end.
    await jobs.create({ ...job('job-b'), deadline: new Date(Date.now() - 60_000).toISOString() });
    await jobs.acquireLock('job-c');
    expect(await jobs.get('job-b')).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/hard limit .* passed before the job recorded its end/),
    });
    await jobs.releaseLock('job-c');
  });

  it('a job whose machine cannot be started ends FAILED at once and frees the lock', async () => {
    // A dataset to train on: an empty prefix would be refused before any launch.
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: 'datasets/tess/OAF_back_angry.wav', Body: 'RIFF' }),
    );
    const service = createTrainingService({
      jobs,
      registry,
      datasets: createS3DatasetPrefixes(fixBucketLevelPaths(aws.s3, aws.s3Endpoint), aws.bucket),
      packages: createS3ModelPackages(aws.s3),
      launcher: { launch: async () => Promise.reject(new Error('InsufficientInstanceCapacity')) },
      bundledVersion: '1.0.0',
      newId: () => 'job-no-capacity',
    });

    const refused = await service.createJob({}).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ kind: 'unavailable', code: 'TRAINING_UNAVAILABLE' });
    expect(await jobs.get('job-no-capacity')).toMatchObject({
      status: 'FAILED',
      error: 'Could not start training: InsufficientInstanceCapacity',
    });
    await jobs.acquireLock('job-next');
    await jobs.releaseLock('job-next');
  });

  it('serving keeps the current model when the active version fails its sha256 check, and follows a good one', async () => {
    // Prepare: the bundled package copied to S3 twice, once registered with a wrong sha256.
    const bundled = await createPredictor({ modelDir: BUNDLED_MODEL_DIR });
    const metadataJson = await readFile(`${BUNDLED_MODEL_DIR}metadata.json`, 'utf8');
    const onnx = await readFile(`${BUNDLED_MODEL_DIR}${bundled.metadata.onnxFile}`);
    for (const version of ['copy-good', 'copy-tampered']) {
      const metadata = JSON.stringify({ ...JSON.parse(metadataJson), version });
      for (const [name, body] of [
        ['metadata.json', metadata],
        [bundled.metadata.onnxFile, onnx],
      ] as const) {
        await aws.s3.send(
          new PutObjectCommand({ Bucket: aws.bucket, Key: `models/${version}/${name}`, Body: body }),
        );
      }
      await registry.register({
        version,
        source: 'trained',
        sha256: version === 'copy-good' ? bundled.metadata.sha256 : 'f'.repeat(64),
        location: `s3://${aws.bucket}/models/${version}/`,
        metrics: {},
        createdAt: new Date().toISOString(),
      });
    }
    const errors: string[] = [];
    const provider = createActiveModelProvider({
      registry,
      s3: aws.s3,
      bundled,
      refreshSec: 0,
      onError: (_message, error) => errors.push((error as Error).message),
    });

    // Act + assess
    await registry.activate('copy-tampered');
    await provider.refresh();
    expect(provider.predictor.modelVersion).toBe(bundled.modelVersion);
    expect(errors).toEqual([expect.stringMatching(/is not the registered f{64}/)]);

    await registry.activate('copy-good');
    await provider.refresh();
    expect(provider.predictor.modelVersion).toBe('copy-good');
  });
});

describe('deploying a bundled model: stored under models/<version>/, registered there, activated by the rule (s3rver, dynalite)', () => {
  let aws: TestAws;
  let s3: S3Client;
  let registry: ModelRegistry;
  const copies: ModelPackageCopy[] = [];
  /** The shipped package under another version (and, with otherBytes, another sha256). */
  const packageAs = (version: string, options?: { otherBytes?: boolean }) => {
    const copy = copyModelPackage(version, options);
    copies.push(copy);
    return copy;
  };
  /** A deployment of `dir`'s package after one that shipped `previous` (none: the stack's first). */
  const deploy = async (dir: string, previous?: string, on = registry) =>
    publishBundledModel({ registry: on, s3, bucket: aws.bucket }, await readPackageFolder(dir), previous);
  /** An inference function's provider bundling the package in `dir`, refreshed once (its own S3 client or clock if given). */
  const servingWith = async (dir: string, options: { s3?: S3Client; now?: () => number } = {}) => {
    const errors: string[] = [];
    const provider = createActiveModelProvider({
      registry,
      s3: options.s3 ?? aws.s3,
      bundled: await createPredictor({ modelDir: dir, warmUp: false }),
      refreshSec: 0,
      ...(options.now ? { now: options.now } : {}),
      onError: (_message, error) => errors.push((error as Error).message),
    });
    await provider.refresh();
    return { provider, errors };
  };
  const service = (bundledVersion: string) =>
    createTrainingService({
      jobs: new TrainingJobRepository(aws.doc, { tableName: aws.tableName, staleAfterMs: 60_000 }),
      registry,
      datasets: createS3DatasetPrefixes(s3, aws.bucket),
      packages: createS3ModelPackages(aws.s3),
      launcher: { launch: async () => ({ launchedAs: 'unused' }) },
      bundledVersion,
    });
  const objectBytes = async (key: string) => {
    const { Body } = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: key }));
    return Buffer.from(await Body!.transformToByteArray());
  };

  beforeEach(async () => {
    aws = await startTestAws();
    // The registration lists the package's prefix, as the training job lists one.
    s3 = fixBucketLevelPaths(aws.s3, aws.s3Endpoint);
    registry = new ModelRegistry(aws.doc, aws);
  });
  afterEach(async () => {
    await aws?.close();
  });
  afterAll(() => {
    for (const copy of copies) copy.remove();
  });

  it('a new bundled version replaces a bundled active one; a rollback to the earlier one loads it from the bucket and outlives a redeploy', async () => {
    // Prepare: 1.6.0 deployed, then 1.6.1
    const old = packageAs('1.6.0');
    const next = packageAs('1.6.1');
    const first = await deploy(old.dir);
    const second = await deploy(next.dir, '1.6.0');

    // Assess: both stored and registered where they are; the new one active
    expect(first).toMatchObject({
      version: '1.6.0',
      location: `s3://${aws.bucket}/models/1.6.0/`,
      activation: { activate: true, active: '1.6.0' },
    });
    expect(second.activation).toEqual({
      activate: true,
      active: '1.6.1',
      reason: "1.6.1 replaces 1.6.0, the previous deployment's bundled model",
    });
    expect(await registry.get('1.6.0')).toMatchObject({
      source: 'bundled',
      sha256: old.sha256,
      location: `s3://${aws.bucket}/models/1.6.0/`,
    });
    expect(JSON.parse((await objectBytes('models/1.6.0/metadata.json')).toString())).toMatchObject({
      version: '1.6.0',
    });

    // Act + assess: the function running 1.6.1 serves it, then follows the rollback to 1.6.0
    const { provider, errors } = await servingWith(next.dir);
    expect(provider.predictor.modelVersion).toBe('1.6.1');
    await registry.activate('1.6.0');
    await provider.refresh();
    expect(provider.predictor.modelVersion).toBe('1.6.0');
    expect(errors).toEqual([]);

    // Act + assess: the same code deployed again leaves the rollback alone
    const again = await deploy(next.dir, '1.6.1');
    expect(again.activation).toEqual({
      activate: false,
      active: '1.6.0',
      reason: '1.6.0 was activated since the previous deployment (1.6.1) and stays; 1.6.1 is registered',
    });
    expect((await registry.getActive())?.version).toBe('1.6.0');
  });

  it('a trained active version stays when a new bundled version is deployed; the bundled one is registered and can be activated', async () => {
    // Prepare: 1.6.0 deployed, a trained version active
    await deploy(packageAs('1.6.0').dir);
    const trained = packageAs('tess-20261207T083012-1a2b');
    await registry.register({
      version: trained.version,
      source: 'trained',
      sha256: trained.sha256,
      location: `s3://${aws.bucket}/models/${trained.version}/`,
      metrics: {},
      createdAt: new Date().toISOString(),
    });
    await registry.activate(trained.version);

    // Act
    const deployed = await deploy(packageAs('1.6.1').dir, '1.6.0');

    // Assess
    expect(deployed.activation).toEqual({
      activate: false,
      active: trained.version,
      reason: `the trained ${trained.version} stays active; 1.6.1 is registered`,
    });
    expect(await registry.get('1.6.1')).toMatchObject({ source: 'bundled', location: expect.any(String) });
    expect(await service('1.6.1').activateModel('1.6.1')).toMatchObject({
      active: '1.6.1',
      previousVersion: trained.version,
    });
  });

  it('a deployment that failed after registering its version activates it when retried, once the rollback has put the earlier one back', async () => {
    // Prepare: 1.6.0 live; the deployment of 1.6.1 registers it, then its activation write fails (a timeout)
    const old = packageAs('1.6.0');
    const next = packageAs('1.6.1');
    await deploy(old.dir);
    const failing = new (class extends ModelRegistry {
      override activate(): never {
        throw new Error('Task timed out after 60.00 seconds');
      }
    })(aws.doc, aws);
    await expect(deploy(next.dir, '1.6.0', failing)).rejects.toThrow(/timed out/);

    // Act: CloudFormation's rollback (an update back to 1.6.0's properties), then the retried deployment
    const rollback = await deploy(old.dir, '1.6.1');
    const retried = await deploy(next.dir, '1.6.0');

    // Assess
    expect(rollback.activation).toEqual({
      activate: false,
      active: '1.6.0',
      reason: '1.6.0 is already active',
    });
    expect(retried.activation).toEqual({
      activate: true,
      active: '1.6.1',
      reason: "1.6.1 replaces 1.6.0, the previous deployment's bundled model",
    });
  });

  it('a stack rollback puts the previous bundled version back; a redeploy of the same version changes nothing', async () => {
    // Prepare: 1.6.1 deployed, then 1.6.2 activated by the next deployment
    const earlier = packageAs('1.6.1');
    const later = packageAs('1.6.2');
    await deploy(earlier.dir);
    expect((await deploy(later.dir, '1.6.1')).activation.active).toBe('1.6.2');

    // Act: a later resource of that deployment fails; the rollback re-runs the resource with 1.6.1's properties
    const rolledBack = await deploy(earlier.dir, '1.6.2');
    const pointer = await registry.getActive();
    const redeployed = await deploy(earlier.dir, '1.6.1');

    // Assess: the registry names what the stack's MODEL_VERSION says again, and a redeploy leaves it be
    expect(rolledBack.activation).toEqual({
      activate: true,
      active: '1.6.1',
      reason: "1.6.1 replaces 1.6.2, the previous deployment's bundled model",
    });
    expect(redeployed.activation).toEqual({
      activate: false,
      active: '1.6.1',
      reason: '1.6.1 is already active',
    });
    expect(await registry.getActive()).toEqual(pointer);
  });

  it('a training job compares against an active bundled version from the bucket without the clips it trained on (its splits.json is stored with it)', async () => {
    // Prepare: a bundled version other than this tree's (a rollback) is active, so the job fetches it
    // from the bucket. The candidate's test set is the fixture clips (TESS, a corpus the active version
    // trained on); the active version's own test set records two of them, so it trained on the rest.
    const scan = await scanDataset(HELD_OUT);
    const sha1 = (path: string) => createHash('sha1').update(readFileSync(path)).digest('hex');
    const recorded = scan.clips.map((c) => ({ path: relative(scan.root, c.path), sha1: sha1(c.path) }));
    const splitsOf = (set: typeof recorded) => JSON.stringify({ sets: { 'heldout-speakers': set } });
    const rolledBackTo = packageAs('1.5.9');
    writeFileSync(join(rolledBackTo.dir, 'splits.json'), splitsOf(recorded.slice(0, 2)));
    await deploy(rolledBackTo.dir);
    const candidate = packageAs('candidate');
    writeFileSync(join(candidate.dir, 'splits.json'), splitsOf(recorded));
    const work = mkdtempSync(join(tmpdir(), 'ser-compare-'));

    // Act
    try {
      const active = await fetchActivePackage({ registry, s3 }, '1.5.9', work);
      const comparison = await compareModels({ candidateDir: candidate.dir, active, scan });

      // Assess
      expect(comparison).toMatchObject({
        testSet: 'heldout-speakers',
        excludedSeenByActive: recorded.length - 2,
        clips: 2,
      });
      expect(await objectBytes('models/1.5.9/splits.json')).toEqual(
        readFileSync(join(rolledBackTo.dir, 'splits.json')),
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('a version registered with another sha256 is refused before anything is stored, naming the version and both hashes; the same package again is a no-op', async () => {
    // Prepare
    const registered = packageAs('1.6.0');
    const other = packageAs('1.6.0', { otherBytes: true });
    await deploy(registered.dir);
    const storedOnnx = await objectBytes('models/1.6.0/model.onnx');

    // Act
    const refused = await deploy(other.dir, '1.6.0').catch((error: unknown) => error);
    const again = await deploy(registered.dir, '1.6.0');

    // Assess
    expect(refused).toBeInstanceOf(ModelVersionConflictError);
    expect((refused as Error).message).toBe(
      `Model version 1.6.0 is already registered with another sha256: the registry has ${registered.sha256}, ` +
        `this package ${other.sha256}. A version names one package for good: give this package a version of ` +
        'its own (metadata.json "version").',
    );
    expect(await objectBytes('models/1.6.0/model.onnx')).toEqual(storedOnnx);
    expect((await registry.get('1.6.0'))?.sha256).toBe(registered.sha256);
    expect(again.activation).toMatchObject({ activate: false, active: '1.6.0' });
  });

  it('the same ONNX with another metadata.json under a registered version (a recalibration) is refused before anything is stored', async () => {
    // Prepare
    const registered = packageAs('1.6.0');
    await deploy(registered.dir);
    const storedMetadata = await objectBytes('models/1.6.0/metadata.json');
    const recalibrated = packageAs('1.6.0');
    const metadata = JSON.parse(readFileSync(join(recalibrated.dir, 'metadata.json'), 'utf8'));
    metadata.calibration.temperature = 1.25;
    writeFileSync(join(recalibrated.dir, 'metadata.json'), JSON.stringify(metadata, null, 2));

    // Act
    const refused = await deploy(recalibrated.dir, '1.6.0').catch((error: unknown) => error);

    // Assess
    expect(refused).toBeInstanceOf(ModelVersionConflictError);
    expect((refused as Error).message).toBe(
      `Model version 1.6.0 is already registered with another metadata.json: s3://${aws.bucket}/models/1.6.0/` +
        "metadata.json is not this package's (the ONNX is the same; its calibration, labels or settings " +
        'differ). A version names one package for good: give this package a version of its own (metadata.json "version").',
    );
    expect(await objectBytes('models/1.6.0/metadata.json')).toEqual(storedMetadata);
  });

  it('the same metadata.json with other line ends or indentation (a Windows checkout) is the same package', async () => {
    const registered = packageAs('1.6.0');
    await deploy(registered.dir);
    const storedMetadata = await objectBytes('models/1.6.0/metadata.json');
    const crlf = packageAs('1.6.0');
    const path = join(crlf.dir, 'metadata.json');
    writeFileSync(
      path,
      JSON.stringify(JSON.parse(readFileSync(path, 'utf8')), null, 4).replace(/\n/g, '\r\n'),
    );

    const again = await deploy(crlf.dir, '1.6.0');

    expect(again.activation).toMatchObject({ active: '1.6.0' });
    expect(await objectBytes('models/1.6.0/metadata.json')).toEqual(storedMetadata);
  });

  it("a redeploy stores a registered package's deleted objects again", async () => {
    const registered = packageAs('1.6.0');
    await deploy(registered.dir);
    const onnx = await objectBytes('models/1.6.0/model.onnx');
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/model.onnx' }));
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/splits.json' }));

    await deploy(registered.dir, '1.6.0');

    expect(await objectBytes('models/1.6.0/model.onnx')).toEqual(onnx);
    expect((await objectBytes('models/1.6.0/splits.json')).length).toBeGreaterThan(0);
  });

  it('a version registered without a location (an older deployment) serves only as the bundled model; elsewhere it is refused, said once, and the next deploy moves the pointer off it', async () => {
    // Prepare: what deployments before this change left: 1.5.0 registered without a package, active
    const legacy = packageAs('1.5.0');
    await registry.register({
      version: '1.5.0',
      source: 'bundled',
      sha256: legacy.sha256,
      metrics: {},
      createdAt: '2026-01-01T00:00:00Z',
    });
    await registry.activate('1.5.0');

    // Act + assess: where 1.5.0 is the bundled model it serves; where 1.6.1 is, it cannot
    expect((await servingWith(legacy.dir)).provider.predictor.modelVersion).toBe('1.5.0');
    const next = packageAs('1.6.1');
    const { provider, errors } = await servingWith(next.dir);
    await provider.refresh();
    await provider.refresh();
    expect(provider.predictor.modelVersion).toBe('1.6.1');
    expect(errors).toEqual([
      'Model 1.5.0 cannot serve: it has no package in the bucket (registered by a deployment from before ' +
        'bundled packages were stored there) and this deployment bundles 1.6.1. Deploy 1.5.0 once more to ' +
        'store it, or activate another version.',
    ]);
    const refused = await service('1.6.1')
      .activateModel('1.5.0')
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ kind: 'conflict', code: 'MODEL_UNAVAILABLE' });
    expect((refused as Error).message).toMatch(
      /^Model 1\.5\.0 has no package in the bucket .* \(1\.6\.1\): it cannot serve/,
    );

    // Act + assess: deploying 1.6.1 moves the pointer to a model that serves
    const deployed = await deploy(next.dir);
    expect(deployed.activation).toEqual({
      activate: true,
      active: '1.6.1',
      reason: 'the active 1.5.0 has no package in the bucket: it cannot serve',
    });
  });

  it('a package deleted from the bucket is said once, not at every refresh, and the current model keeps serving', async () => {
    await deploy(packageAs('1.6.0').dir);
    const next = packageAs('1.6.1');
    await deploy(next.dir, '1.6.0');
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/model.onnx' }));
    const { provider, errors } = await servingWith(next.dir);

    await registry.activate('1.6.0');
    for (let i = 0; i < 3; i++) await provider.refresh();

    expect(provider.predictor.modelVersion).toBe('1.6.1');
    expect(errors).toEqual([`Model 1.6.0: s3://${aws.bucket}/models/1.6.0/model.onnx is missing`]);
  });

  it('a package S3 answers 403 for (what AWS says of a missing object without a listing grant) is said once too', async () => {
    // Prepare: 1.6.0's ONNX deleted; the client answers a missing object as AWS does to this function's role
    await deploy(packageAs('1.6.0').dir);
    const next = packageAs('1.6.1');
    await deploy(next.dir, '1.6.0');
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/model.onnx' }));
    const asAwsWithoutListing = {
      send: (command: never) =>
        aws.s3.send(command).catch((error: unknown) => {
          if (!(error instanceof NoSuchKey)) throw error;
          throw new S3ServiceException({
            name: 'AccessDenied',
            $fault: 'client',
            $metadata: { httpStatusCode: 403 },
            message: 'Access Denied',
          });
        }),
    } as unknown as S3Client;
    const { provider, errors } = await servingWith(next.dir, { s3: asAwsWithoutListing });

    // Act
    await registry.activate('1.6.0');
    for (let i = 0; i < 3; i++) await provider.refresh();

    // Assess
    expect(provider.predictor.modelVersion).toBe('1.6.1');
    expect(errors).toEqual([
      `Model 1.6.0: s3://${aws.bucket}/models/1.6.0/model.onnx is missing or not readable by this function (403)`,
    ]);
  });

  it('an active package whose ONNX is over MAX_ONNX_BYTES is refused from its Content-Length, unread, and said once', async () => {
    // Prepare: 1.6.0's ONNX reported larger than any package may be (registered before activation checked it)
    await deploy(packageAs('1.6.0').dir);
    const next = packageAs('1.6.1');
    await deploy(next.dir, '1.6.0');
    const oversizedOnnx = {
      send: async (command: GetObjectCommand) => {
        const out = await aws.s3.send(command);
        return command.input.Key === 'models/1.6.0/model.onnx'
          ? { ...out, ContentLength: MAX_ONNX_BYTES + 1 }
          : out;
      },
    } as unknown as S3Client;
    const { provider, errors } = await servingWith(next.dir, { s3: oversizedOnnx });

    // Act
    await registry.activate('1.6.0');
    for (let i = 0; i < 3; i++) await provider.refresh();

    // Assess
    expect(provider.predictor.modelVersion).toBe('1.6.1');
    expect(errors).toEqual([
      `Model 1.6.0: s3://${aws.bucket}/models/1.6.0/model.onnx is over ${MAX_ONNX_BYTES} bytes, the largest ONNX a package may have`,
    ]);
  });

  it('a deleted package put back is loaded after UNAVAILABLE_RETRY_MS, without a cold start', async () => {
    // Prepare: 1.6.0 activated while its ONNX is gone, said once
    await deploy(packageAs('1.6.0').dir);
    const next = packageAs('1.6.1');
    await deploy(next.dir, '1.6.0');
    const onnx = await objectBytes('models/1.6.0/model.onnx');
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/model.onnx' }));
    let clock = 0;
    const { provider, errors } = await servingWith(next.dir, { now: () => clock });
    await registry.activate('1.6.0');
    await provider.refresh();

    // Act: the object is put back
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: 'models/1.6.0/model.onnx', Body: onnx }),
    );
    clock = UNAVAILABLE_RETRY_MS - 1;
    await provider.refresh();
    const before = provider.predictor.modelVersion;
    clock = UNAVAILABLE_RETRY_MS;
    await provider.refresh();

    // Assess
    expect(before).toBe('1.6.1');
    expect(provider.predictor.modelVersion).toBe('1.6.0');
    expect(errors).toEqual([`Model 1.6.0: s3://${aws.bucket}/models/1.6.0/model.onnx is missing`]);
  });

  it("a metadata.json that is not a package (not JSON, no onnxFile) is said once per UNAVAILABLE_RETRY_MS in the parser's words", async () => {
    // Prepare: 1.6.0 deployed, then 1.6.1; 1.6.0's metadata.json overwritten with something that is not JSON
    await deploy(packageAs('1.6.0').dir);
    const next = packageAs('1.6.1');
    await deploy(next.dir, '1.6.0');
    const metadataKey = 'models/1.6.0/metadata.json';
    const { onnxFile, ...withoutOnnxFile } = JSON.parse((await objectBytes(metadataKey)).toString());
    const putMetadata = (body: string) =>
      aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: metadataKey, Body: body }));
    await putMetadata('{ not json');
    let clock = 0;
    const { provider, errors } = await servingWith(next.dir, { now: () => clock });

    // Act: three refreshes on the corrupt file; then one without onnxFile, after the retry interval
    await registry.activate('1.6.0');
    for (let i = 0; i < 3; i++) await provider.refresh();
    await putMetadata(JSON.stringify(withoutOnnxFile));
    clock = UNAVAILABLE_RETRY_MS;
    await provider.refresh();

    // Assess
    const metadataUrl = `s3://${aws.bucket}/${metadataKey}`;
    expect(onnxFile).toBe('model.onnx');
    expect(provider.predictor.modelVersion).toBe('1.6.1');
    expect(errors).toEqual([
      `${metadataUrl}: metadata is not valid JSON`,
      expect.stringMatching(
        new RegExp(`^${metadataUrl}: metadata is not a model package this core supports \\(.*onnxFile`),
      ),
    ]);
  });

  it('deploying a version registered without a location stores its package and records the location', async () => {
    const legacy = packageAs('1.5.0');
    await registry.register({
      version: '1.5.0',
      source: 'bundled',
      sha256: legacy.sha256,
      metrics: f1(0.5),
      createdAt: '2026-01-01T00:00:00Z',
    });

    await deploy(legacy.dir);

    expect(await registry.get('1.5.0')).toEqual({
      version: '1.5.0',
      source: 'bundled',
      sha256: legacy.sha256,
      location: `s3://${aws.bucket}/models/1.5.0/`,
      metrics: f1(0.5),
      createdAt: '2026-01-01T00:00:00Z',
    });
    expect((await objectBytes('models/1.5.0/metadata.json')).length).toBeGreaterThan(0);
  });
});
