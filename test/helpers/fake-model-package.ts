import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_MODEL_DIR, readModelMetadata } from '../../lambdas/core/model/location.ts';

export interface FakeModelPackage {
  dir: string;
  remove(): void;
}

/**
 * A model package folder for the CDK control-plane tests, which skip bundling (test/cdk-asset.test.ts
 * covers the real asset): metadata.json, valid for the package contract (the stack checks it at synth),
 * with the bundled model's features and labels and this package's own version (the API's MODEL_VERSION)
 * and what the deploy-time registration records (sha256, creation time, metrics), and a stand-in for its
 * ONNX file, which the registration's file asset needs to exist (its bytes are never run).
 */
export function fakeModelPackage(version: string): FakeModelPackage {
  const dir = mkdtempSync(join(tmpdir(), 'ser-cdk-model-'));
  writeFileSync(
    join(dir, 'metadata.json'),
    JSON.stringify({
      ...readModelMetadata(BUNDLED_MODEL_DIR),
      version,
      sha256: 'a'.repeat(64),
      createdAt: '2026-01-01T00:00:00Z',
      metrics: {},
      onnxFile: 'model.onnx',
    }),
  );
  writeFileSync(join(dir, 'model.onnx'), 'not a model: the CDK tests never load it');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
