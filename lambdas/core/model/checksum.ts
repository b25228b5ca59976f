import { createHash } from 'node:crypto';
import { ModelError } from '../errors.ts';

/**
 * A package's checksum: the hex sha256 of its ONNX bytes, as `metadata.json` records it. Apart from the
 * runtime, so that what only stores or checks packages (the deploy-time registration) does not load
 * onnxruntime.
 */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The ONNX bytes are the ones the metadata recorded; `source` names the package in the error. */
export function checkOnnxChecksum(
  metadata: { onnxFile: string; sha256: string },
  onnx: Uint8Array,
  source: string,
): void {
  const actual = sha256Hex(onnx);
  if (actual !== metadata.sha256) {
    throw new ModelError(
      `${source}: ${metadata.onnxFile} has sha256 ${actual}, metadata says ${metadata.sha256}`,
    );
  }
}
