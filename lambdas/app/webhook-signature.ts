import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a callback carries: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'ser-signature';
/** The event id, the same on every delivery of one result: what a receiver deduplicates on. */
export const EVENT_ID_HEADER = 'ser-event-id';
/** How old a signed timestamp a receiver should accept (replays of a captured request fail after it). */
export const DEFAULT_TOLERANCE_SEC = 300;

const hmac = (secret: string, timestamp: number, body: string): string =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

/** Signs over the timestamp and the exact body bytes, so neither can be changed or replayed late. */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

/**
 * A receiver's check: the header parses, the timestamp is within the tolerance, and one `v1` matches
 * (several are allowed, for a secret being rotated). Constant-time comparison.
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  { nowSec = Math.floor(Date.now() / 1000), toleranceSec = DEFAULT_TOLERANCE_SEC } = {},
): boolean {
  if (!header) return false;
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSec - timestamp) > toleranceSec) return false;
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  return parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v))
    .some(([, v]) => timingSafeEqual(Buffer.from(v!, 'hex'), expected));
}
