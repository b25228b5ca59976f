import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../lambdas/core/model/checksum.ts';
import { BUNDLED_MODEL_DIR } from '../../lambdas/core/model/location.ts';

export interface ModelPackageCopy {
  dir: string;
  version: string;
  sha256: string;
  remove(): void;
}

/**
 * The shipped package (metadata.json and its ONNX) in a temporary folder under another version, as a
 * deployment of a new bundled model would carry it. `otherBytes`: a different package under that version
 * (the ONNX with a byte appended, its sha256 recorded, so it passes the checksum but is not the same).
 */
export function copyModelPackage(version: string, { otherBytes = false } = {}): ModelPackageCopy {
  const metadata = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, 'metadata.json'), 'utf8'));
  const shipped = readFileSync(join(BUNDLED_MODEL_DIR, metadata.onnxFile));
  const onnx = otherBytes ? Buffer.concat([shipped, Buffer.from([0])]) : shipped;
  const sha256 = sha256Hex(onnx);
  const dir = mkdtempSync(join(tmpdir(), `ser-model-${version}-`));
  writeFileSync(join(dir, metadata.onnxFile), onnx);
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...metadata, version, sha256 }, null, 2));
  return { dir, version, sha256, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
