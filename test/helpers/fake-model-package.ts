import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeModelPackage {
  dir: string;
  remove(): void;
}

/**
 * A model package folder for the CDK control-plane tests, which skip bundling (test/cdk-asset.test.ts
 * covers the real asset): only the metadata the stack reads at synth, its version (the API's
 * MODEL_VERSION), what the deploy-time registration records (sha256, creation time, metrics) and the
 * ONNX file's name (the asset ships it beside metadata.json).
 */
export function fakeModelPackage(version: string): FakeModelPackage {
  const dir = mkdtempSync(join(tmpdir(), 'ser-cdk-model-'));
  writeFileSync(
    join(dir, 'metadata.json'),
    JSON.stringify({
      version,
      sha256: 'a'.repeat(64),
      createdAt: '2026-01-01T00:00:00Z',
      metrics: {},
      onnxFile: 'model.onnx',
    }),
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
