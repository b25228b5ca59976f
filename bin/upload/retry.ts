/** A failure worth trying again: throttling, a 5xx, a dropped connection. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Network errors from fetch and the SDK are retryable too; anything else is final. */
const isRetryable = (error: unknown): boolean =>
  error instanceof RetryableError ||
  (error instanceof TypeError && error.message === 'fetch failed') ||
  (error as { $retryable?: unknown })?.$retryable !== undefined ||
  ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT'].includes((error as { code?: string })?.code ?? '') ||
  // The SDK's own request timeout (aws-clients.ts sets one): a slow answer, worth another try.
  ['TimeoutError', 'RequestTimeout'].includes((error as Error)?.name ?? '');

/** Runs `task`, retrying retryable failures with exponential backoff and jitter. */
export async function withRetries<T>(task: () => Promise<T>, retries: number, baseDelayMs = 500): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (attempt >= retries || !isRetryable(error)) throw error;
      await sleep(baseDelayMs * 2 ** attempt * (0.5 + Math.random()));
    }
  }
}

/** Runs `worker` over `items` with at most `concurrency` at a time; results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}
