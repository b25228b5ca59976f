import { TRIGGER_PREFIXES } from '../../lambdas/app/object-keys.ts';
import type { S3rverEvent } from './local-aws.ts';

/** Real S3 URL-encodes keys in notifications (space → `+`), s3rver does not: encode as S3 does. */
export const encodeS3EventKey = (key: string): string =>
  key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');

let sequence = 0;
const sequencers = new WeakMap<object, string>();
/**
 * S3's sequencer orders the events of a key and differs for every write; s3rver's is the time in ms, the
 * same for two writes within a millisecond. Ours: the time, then a counter (hex, fixed width, so that
 * later writes compare greater as strings, as S3's do), one per s3rver event (a duplicate delivery of
 * the same event keeps it).
 */
const sequencerOf = (record: { s3: { object: { key: string } } }): string => {
  let value = sequencers.get(record);
  if (!value) {
    const counter = (sequence++ % 0x100000000).toString(16).toUpperCase().padStart(8, '0');
    value = `${Date.now().toString(16).toUpperCase().padStart(12, '0')}${counter}`;
    sequencers.set(record, value);
    latestSequencers.set(record.s3.object.key, value);
  }
  return value;
};

/** The sequencer of each key's latest notification (the load test redelivers events with it, as S3 would). */
const latestSequencers = new Map<string, string>();
export const latestSequencer = (key: string): string | undefined => latestSequencers.get(key);

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
    s3: {
      ...r.s3,
      object: { ...r.s3.object, key: encodeS3EventKey(r.s3.object.key), sequencer: sequencerOf(r) },
    },
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
  /**
   * Each event in its own invocation, as an unreserved function takes them, instead of one at a time:
   * one slow event (a callback receiver that never answers) then delays no other. @default false
   */
  concurrent?: boolean;
}

/**
 * Delivers notifications to a handler one at a time, like a function with reserved concurrency 1 (or,
 * `concurrent`, each at once), retrying as Lambda's asynchronous invocation does. `idle()` resolves when
 * every event pushed so far is delivered or exhausted.
 */
export function createEventQueue<E = S3rverEvent>(
  handler: (event: E) => Promise<unknown>,
  options: EventDeliveryOptions<E> = {},
) {
  const deliver = deliveryWithRetries(handler, options);
  let tail: Promise<void> = Promise.resolve();
  const running = new Set<Promise<void>>();
  return {
    push(event: E): void {
      // A failing event must not break the chain: every later event still has to be delivered.
      if (!options.concurrent) {
        tail = tail.then(() => deliver(event)).catch(() => undefined);
        return;
      }
      const delivery = deliver(event).catch(() => undefined);
      running.add(delivery);
      void delivery.finally(() => running.delete(delivery));
    },
    async idle(): Promise<void> {
      await tail;
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

/** One event's delivery: the handler, retried, then `onExhausted`. */
function deliveryWithRetries<E>(
  handler: (event: E) => Promise<unknown>,
  { retries = 2, retryDelayMs = 1000, onDelivered, onFailed, onExhausted }: EventDeliveryOptions<E>,
) {
  return async (event: E): Promise<void> => {
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
  };
}
