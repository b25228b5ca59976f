import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Hex, streamedSha256Hex } from '../lambdas/core/model/checksum.ts';

/** `count` chunks of `size` bytes (chunk i filled with i), as a Readable that says how many were read. */
function chunked(count: number, size: number) {
  const chunks = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i));
  let pulled = 0;
  const stream = new Readable({
    highWaterMark: size,
    read() {
      this.push(pulled < count ? chunks[pulled++] : null);
    },
  });
  return { stream, whole: Buffer.concat(chunks), pulled: () => pulled };
}

describe('streamedSha256Hex: the sha256 of a stream, up to a cap', () => {
  it('under the cap: the sha256 of all the bytes, as sha256Hex gives it', async () => {
    const { stream, whole } = chunked(3, 100);

    const hash = await streamedSha256Hex(stream, 301);

    expect(hash).toBe(sha256Hex(whole));
  });

  it('at the cap exactly: still the sha256 (the cap is the largest size allowed)', async () => {
    const { stream, whole } = chunked(3, 100);

    const hash = await streamedSha256Hex(stream, 300);

    expect(hash).toBe(sha256Hex(whole));
  });

  it('over the cap: undefined as soon as the chunk that passes it comes, the stream ended unread beyond it', async () => {
    const { stream, pulled } = chunked(10, 100);

    const hash = await streamedSha256Hex(stream, 299);

    expect(hash).toBeUndefined();
    expect(pulled()).toBeLessThan(10);
    expect(stream.destroyed).toBe(true);
  });

  it('an async iterable that is not a stream is ended too (its return() runs)', async () => {
    let ended = false;
    async function* chunks() {
      try {
        for (let i = 0; i < 100; i += 1) yield new Uint8Array(64);
      } finally {
        ended = true;
      }
    }

    const hash = await streamedSha256Hex(chunks(), 1000);

    expect({ hash, ended }).toEqual({ hash: undefined, ended: true });
  });
});
