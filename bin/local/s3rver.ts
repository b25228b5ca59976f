import { createRequire } from 'node:module';
import type S3rverClass from '@20minutes/s3rver';

/**
 * `@20minutes/s3rver` with ListObjectsV2 paging that works on OpenSSL 3 (see docs/dependencies.md).
 *
 * Its bucket controller builds continuation tokens with single DES (`createCipheriv('des', key8, iv)`),
 * which OpenSSL 3 only offers in its legacy provider: any listing past 1000 keys answers InternalError.
 * Triple DES with the same key three times (`des-ede3-cbc`, K1 = K2 = K3) *is* single DES, byte for
 * byte, and OpenSSL 3 keeps it in its default provider. So while the package loads, the controller's
 * `require('crypto')` (and only that one) gets a copy of `crypto` whose `des` calls are mapped to it:
 * tokens are exactly those s3rver meant to make, and nothing else in the process changes.
 */
type CryptoModule = typeof import('node:crypto');
type CipherFactory = CryptoModule['createCipheriv'];

const BUCKET_CONTROLLER = /[\\/]@20minutes[\\/]s3rver[\\/]lib[\\/]controllers[\\/]bucket\.js$/;
const require = createRequire(import.meta.url);
const crypto: CryptoModule = require('node:crypto');

export function desSupported(): boolean {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

function withDesAsTripleDes(factory: CipherFactory): CipherFactory {
  return ((algorithm: string, key: Buffer, iv: Buffer, options?: unknown) =>
    algorithm === 'des'
      ? factory('des-ede3-cbc', Buffer.concat([key, key, key]), iv, options as undefined)
      : factory(algorithm, key, iv, options as undefined)) as CipherFactory;
}

function loadS3rver(): typeof S3rverClass {
  if (desSupported()) return require('@20minutes/s3rver');
  const Module = require('node:module') as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  };
  const originalLoad = Module._load;
  const shimmed = {
    ...crypto,
    createCipheriv: withDesAsTripleDes(crypto.createCipheriv),
    createDecipheriv: withDesAsTripleDes(crypto.createDecipheriv as unknown as CipherFactory),
  };
  Module._load = function load(request, parent, isMain) {
    const from = (parent as { filename?: string } | undefined)?.filename ?? '';
    if (request === 'crypto' && BUCKET_CONTROLLER.test(from)) return shimmed;
    return originalLoad.call(this, request, parent, isMain);
  };
  try {
    return require('@20minutes/s3rver');
  } finally {
    Module._load = originalLoad;
  }
}

export const S3rver = loadS3rver();
export type S3rver = S3rverClass;
