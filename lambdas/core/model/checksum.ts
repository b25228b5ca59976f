import { createHash } from 'node:crypto';
import { ModelError } from '../errors.ts';

/**
 * The largest ONNX a model package may have, refused before its bytes are read where a package is checked
 * from a stream (an activation hashes it within the API's 10 s timeout). The packages this project trains
 * and ships are ~200 KB; 64 MB is far above them and far below what a function holds in memory.
 */
export const MAX_ONNX_BYTES = 64 * 1024 * 1024;

/**
 * A package's checksum: the hex sha256 of its ONNX bytes, as `metadata.json` records it. Apart from the
 * runtime, so that what only stores or checks packages (the deploy-time registration) does not load
 * onnxruntime.
 */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * `sha256Hex` of bytes that arrive in chunks (an S3 object's body), never held whole; `undefined` as soon
 * as more than `maxBytes` have come (the caller ends the stream).
 */
export async function streamedSha256Hex(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes = MAX_ONNX_BYTES,
): Promise<string | undefined> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > maxBytes) return undefined;
    hash.update(chunk);
  }
  return hash.digest('hex');
}

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
