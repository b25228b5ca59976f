/**
 * How long an S3 event can still come back after its object was created: one home for the numbers the
 * stack configures (lib/constructs/inference.ts) and the erasure marker's lifetime derives from.
 */

/** Lambda keeps retrying an S3 event this long (its maxEventAge), then hands it to the dead-letter topic. */
export const EVENT_MAX_AGE_HOURS = 6;

/** The dead-letter queue keeps a message this long: the window in which `ser replay` can re-run it. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

/**
 * Added to the marker's lifetime: the windows above count from when Lambda and SQS take the event, while
 * the marker counts from the erasure, and SNS's and SQS's deliveries, a replay handed back to Lambda's
 * asynchronous retries (`ser replay` of a message near the end of its retention) and the invocations
 * themselves can add to them. A day is far more than these take and costs one small item a day longer.
 */
export const ERASURE_MARKER_MARGIN_DAYS = 1;

/**
 * An erased speaker's marker lives as long as an event of a clip that came before the erasure can still
 * reach the processor or the dead-letter recorder: its retries, then its dead-lettered message's replay,
 * plus the margin (6 hours and 15 days).
 */
export const ERASURE_MARKER_TTL_SEC =
  EVENT_MAX_AGE_HOURS * 3600 + (DEAD_LETTER_RETENTION_DAYS + ERASURE_MARKER_MARGIN_DAYS) * 86_400;
