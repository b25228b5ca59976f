import { createHash } from 'node:crypto';

/**
 * A package's checksum: the hex sha256 of its ONNX bytes, as `metadata.json` records it. Apart from the
 * runtime, so that what only stores or checks packages (the deploy-time registration) does not load
 * onnxruntime.
 */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
