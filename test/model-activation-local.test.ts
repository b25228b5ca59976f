import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { ModelRegistry } from '../lambdas/training/model-registry.ts';
import { useTestStack } from './helpers/local-stack.ts';
import { copyModelPackage } from './helpers/model-package-copy.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;

describe('activating a version whose package objects are gone from the bucket (local stack)', () => {
  const local = useTestStack({ bucket: 'ser-activation', apiKey: 'activation-user-key' });
  const trained = copyModelPackage('tess-20260101T000000-gone');
  /** Another version's package, with another ONNX: its metadata.json is put over the trained one's. */
  const other = copyModelPackage('tess-20260102T000000-other', { otherBytes: true });
  afterAll(() => {
    trained.remove();
    other.remove();
  });

  const admin = async (method: string, path: string) => {
    const response = await fetch(`${local.stack.apiUrl}${path}`, {
      method,
      headers: { 'x-api-key': local.stack.adminKey },
    });
    return { status: response.status, json: (await response.json()) as Json };
  };
  const key = (name: string) => `models/${trained.version}/${name}`;
  /** What a training job leaves: its package under models/<version>/, and the version registered there. */
  const publishTrained = async () => {
    for (const name of ['metadata.json', 'model.onnx']) {
      const body = readFileSync(join(trained.dir, name));
      await local.s3.send(new PutObjectCommand({ Bucket: local.stack.bucket, Key: key(name), Body: body }));
    }
    const documents = createDocumentClient({
      region: LOCAL_REGION,
      dynamoDbEndpoint: local.stack.dynamoDbEndpoint,
      credentials: LOCAL_S3_CREDENTIALS,
    });
    await new ModelRegistry(documents, { tableName: 'predictions' }).register({
      version: trained.version,
      source: 'trained',
      sha256: trained.sha256,
      location: `s3://${local.stack.bucket}/${key('')}`,
      metrics: {},
      createdAt: new Date().toISOString(),
    });
    documents.destroy();
  };
  const remove = (name: string) =>
    local.s3.send(new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: key(name) }));

  it('answers 409 MODEL_UNAVAILABLE naming the missing object, and the active model stays', async () => {
    // Prepare: the trained version can be activated while its package is whole; the bundled one back
    await publishTrained();
    const bundled = local.stack.modelVersion;
    expect((await admin('POST', `/models/${trained.version}/activate`)).status).toBe(200);
    expect((await admin('POST', `/models/${bundled}/activate`)).status).toBe(200);

    // Act: its ONNX deleted, then its metadata.json too
    await remove('model.onnx');
    const withoutOnnx = await admin('POST', `/models/${trained.version}/activate`);
    await remove('metadata.json');
    const withoutMetadata = await admin('POST', `/models/${trained.version}/activate`);

    // Assess
    const bucketUrl = `s3://${local.stack.bucket}/${key('')}`;
    expect(withoutOnnx).toMatchObject({ status: 409, json: { error: { code: 'MODEL_UNAVAILABLE' } } });
    expect(withoutOnnx.json.error.message).toContain(`${bucketUrl}model.onnx is missing`);
    expect(withoutMetadata).toMatchObject({ status: 409, json: { error: { code: 'MODEL_UNAVAILABLE' } } });
    expect(withoutMetadata.json.error.message).toContain(`${bucketUrl}metadata.json is missing`);
    expect((await admin('GET', '/models')).json.active).toBe(bundled);
    expect((await admin('GET', '/health')).json.modelVersion).toBe(bundled);
  });

  it("answers 409 MODEL_UNAVAILABLE when the package at the version's location is another version's", async () => {
    // Prepare: the trained package, whose metadata.json is then replaced by another version's
    await publishTrained();
    const replacement = readFileSync(join(other.dir, 'metadata.json'));
    await local.s3.send(
      new PutObjectCommand({ Bucket: local.stack.bucket, Key: key('metadata.json'), Body: replacement }),
    );

    // Act
    const activated = await admin('POST', `/models/${trained.version}/activate`);

    // Assess: refused, naming both differences; the active model stays
    const metadataUrl = `s3://${local.stack.bucket}/${key('metadata.json')}`;
    expect(activated).toMatchObject({ status: 409, json: { error: { code: 'MODEL_UNAVAILABLE' } } });
    expect(activated.json.error.message).toContain(
      `${metadataUrl} is the package of version ${other.version}, not ${trained.version}`,
    );
    expect(activated.json.error.message).toContain(
      `${metadataUrl}: sha256 ${other.sha256} is not the registered ${trained.sha256}`,
    );
    expect((await admin('GET', '/models')).json.active).toBe(local.stack.modelVersion);
  });

  it('answers 409 MODEL_UNAVAILABLE when the ONNX is not the registered bytes, and activates it once they are back', async () => {
    // Prepare: the trained package, whose ONNX is then replaced by another of the same length
    await publishTrained();
    const put = (name: string, body: Buffer) =>
      local.s3.send(new PutObjectCommand({ Bucket: local.stack.bucket, Key: key(name), Body: body }));
    await put('model.onnx', readFileSync(join(other.dir, 'model.onnx')));
    const before = (await admin('GET', '/models')).json.active;

    // Act: refused while the ONNX is replaced; the intact ONNX put back, activated
    const corrupted = await admin('POST', `/models/${trained.version}/activate`);
    const activeAfterRefusal = (await admin('GET', '/models')).json.active;
    await put('model.onnx', readFileSync(join(trained.dir, 'model.onnx')));
    const restored = await admin('POST', `/models/${trained.version}/activate`);
    const activeAfterRestore = (await admin('GET', '/models')).json.active;
    await admin('POST', `/models/${local.stack.modelVersion}/activate`);

    // Assess
    const onnxUrl = `s3://${local.stack.bucket}/${key('model.onnx')}`;
    expect(corrupted).toMatchObject({ status: 409, json: { error: { code: 'MODEL_UNAVAILABLE' } } });
    expect(corrupted.json.error.message).toContain(`${onnxUrl}: checksum does not match`);
    expect(activeAfterRefusal).toBe(before);
    expect(restored).toMatchObject({ status: 200, json: { active: trained.version } });
    expect(activeAfterRestore).toBe(trained.version);
  });

  it("the running deployment's bundled version serves from its asset: activated with its objects gone", async () => {
    const bundled = local.stack.modelVersion;
    await local.s3.send(
      new DeleteObjectCommand({ Bucket: local.stack.bucket, Key: `models/${bundled}/model.onnx` }),
    );

    const activated = await admin('POST', `/models/${bundled}/activate`);

    expect(activated).toMatchObject({ status: 200, json: { active: bundled } });
  });
});
