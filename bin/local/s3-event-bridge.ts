import { TRIGGER_PREFIXES } from '../../lambdas/app/object-keys.ts';
import type { S3rverEvent } from './local-aws.ts';

/** Real S3 URL-encodes keys in notifications (space → `+`), s3rver does not: encode as S3 does. */
export const encodeS3EventKey = (key: string): string =>
  key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');

/**
 * The notification S3 would send for an s3rver event, or `undefined` when the bucket's notification
 * configuration (ObjectCreated on uploads/ and incoming/, as in the CDK stack) would not send one.
 */
export function toNotification(event: S3rverEvent): S3rverEvent | undefined {
  const records = event.Records.filter(
    (r) =>
      r.eventName.startsWith('ObjectCreated:') &&
      TRIGGER_PREFIXES.some((prefix) => r.s3.object.key.startsWith(prefix)),
  ).map((r) => ({
    ...r,
    s3: { ...r.s3, object: { ...r.s3.object, key: encodeS3EventKey(r.s3.object.key) } },
  }));
  return records.length > 0 ? { Records: records } : undefined;
}

export interface EventDeliveryOptions<E = S3rverEvent> {
  /** Lambda retries an asynchronous invocation twice before the on-failure destination. */
  retries?: number;
  /**
   * Wait before retry n: n × this. Lambda waits about 1 and 2 minutes; scaled down here, but not to
   * nothing, so that a retry can outlast a concurrent duplicate's claim instead of failing three times
   * within milliseconds. @default 1000
   */
  retryDelayMs?: number;
  onDelivered?: (event: E, result: unknown) => void;
  onFailed?: (event: E, error: unknown, attempt: number) => void;
  /** After the last retry, as Lambda hands the event to its on-failure destination (the DLQ). */
  onExhausted?: (event: E, error: unknown, attempts: number) => void | Promise<void>;
}

/**
 * Delivers notifications to a handler one at a time, like a function with reserved concurrency 1,
 * retrying as Lambda's asynchronous invocation does. `idle()` resolves when the queue is empty.
 */
export function createEventQueue<E = S3rverEvent>(
  handler: (event: E) => Promise<unknown>,
  { retries = 2, retryDelayMs = 1000, onDelivered, onFailed, onExhausted }: EventDeliveryOptions<E> = {},
) {
  let tail: Promise<void> = Promise.resolve();
  return {
    push(event: E): void {
      tail = tail
        .then(async () => {
          let lastError: unknown;
          for (let attempt = 1; attempt <= retries + 1; attempt++) {
            try {
              // Not `onDelivered?.(event, await handler(event))`: without a callback that would skip the call.
              const result = await handler(event);
              onDelivered?.(event, result);
              return;
            } catch (error) {
              lastError = error;
              onFailed?.(event, error, attempt);
              if (attempt <= retries && retryDelayMs > 0) {
                await new Promise((resolve) => setTimeout(resolve, attempt * retryDelayMs));
              }
            }
          }
          await onExhausted?.(event, lastError, retries + 1);
        })
        // A failing callback must not break the chain: every later event still has to be delivered.
        .catch(() => undefined);
    },
    idle: (): Promise<void> => tail,
  };
}
