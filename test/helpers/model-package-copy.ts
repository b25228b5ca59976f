import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../lambdas/core/model/checksum.ts';
import { BUNDLED_MODEL_DIR, SPLITS_FILE } from '../../lambdas/core/model/location.ts';

export interface ModelPackageCopy {
  dir: string;
  version: string;
  sha256: string;
  remove(): void;
}

/** Another package that predicts the same: one letter of the ONNX's doc string, same length, changed. */
function otherOnnx(onnx: Buffer): Buffer {
  const from = Buffer.from('Speech emotion');
  const at = onnx.indexOf(from);
  if (at < 0) throw new Error('the shipped ONNX has no "Speech emotion" doc string to alter');
  const other = Buffer.from(onnx);
  other.write('s', at);
  return other;
}

/**
 * The shipped package (metadata.json, its ONNX and splits.json) in a temporary folder under another version, as a
 * deployment of a new bundled model would carry it. `otherBytes`: a different, loadable package under that
 * version (the ONNX's doc string changed, its sha256 recorded, so it passes every check but is not the same).
 */
export function copyModelPackage(version: string, { otherBytes = false } = {}): ModelPackageCopy {
  const metadata = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, 'metadata.json'), 'utf8'));
  const shipped = readFileSync(join(BUNDLED_MODEL_DIR, metadata.onnxFile));
  const onnx = otherBytes ? otherOnnx(shipped) : shipped;
  const sha256 = sha256Hex(onnx);
  const dir = mkdtempSync(join(tmpdir(), `ser-model-${version}-`));
  writeFileSync(join(dir, metadata.onnxFile), onnx);
  copyFileSync(join(BUNDLED_MODEL_DIR, SPLITS_FILE), join(dir, SPLITS_FILE));
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...metadata, version, sha256 }, null, 2));
  return { dir, version, sha256, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
