import { invalid } from './domain-error.ts';

export interface CallbackUrlPolicy {
  /** The local stack: plain http to this machine is fine (nothing leaves it). Never on AWS. */
  allowHttpLoopback: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A callback URL we are willing to POST results to: https (the body carries the result and the
 * receiver must know it talks to its own server), no credentials in the URL (they would be logged
 * and stored). Checked when the upload is created, and again by the deliverer before each POST.
 */
export function isAllowedCallbackUrl(value: string, policy: CallbackUrlPolicy): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return policy.allowHttpLoopback && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** The URL as given, or an `invalid` INVALID_CALLBACK_URL saying what is accepted. */
export function checkCallbackUrl(value: string, policy: CallbackUrlPolicy): string {
  if (isAllowedCallbackUrl(value, policy)) return value;
  throw invalid(
    'INVALID_CALLBACK_URL',
    policy.allowHttpLoopback
      ? 'callbackUrl must be https, or http to 127.0.0.1/localhost, without credentials'
      : 'callbackUrl must be an https URL without credentials',
  );
}
