import { BlockList, isIP } from 'node:net';
import { invalid } from './domain-error.ts';

export interface CallbackUrlPolicy {
  /** The local stack: plain http to this machine is fine (nothing leaves it). Never on AWS. */
  allowHttpLoopback: boolean;
}

/** Addresses of this machine (the local stack's exception for plain http). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Addresses that are not the public internet: this machine, private networks, link-local (cloud
 * metadata services), carrier-grade NAT, benchmarking, multicast and reserved ranges. A callback to one
 * would make our deliverer a way into someone's network, so an IP written in the URL must be public.
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
// (IPv4-mapped IPv6 addresses, ::ffff:a.b.c.d, are checked against the IPv4 ranges by BlockList itself.)
// Prefixes that embed an IPv4 address (IPv4-compatible, NAT64, Teredo, 6to4) are refused whole: the
// address inside could be any of the ranges above. Also discard-only, documentation and site-local.
for (const [net, prefix] of [
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** The URL's host as an address (IPv6 without its brackets), or undefined for a name. */
function addressOf(hostname: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const version = isIP(host);
  return version === 0 ? undefined : { address: host, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** `localhost`, a name under it, and either written fully qualified (`localhost.`). */
const isLocalName = (hostname: string) => {
  const name = hostname.replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
};

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
  const address = addressOf(url.hostname);
  if (url.protocol === 'https:')
    return !isLocalName(url.hostname) && !(address && NOT_PUBLIC.check(address.address, address.family));
  const loopback = isLocalName(url.hostname) || (address && LOOPBACK.check(address.address, address.family));
  return policy.allowHttpLoopback && url.protocol === 'http:' && Boolean(loopback);
}

/** The URL as given, or an `invalid` INVALID_CALLBACK_URL saying what is accepted. */
export function checkCallbackUrl(value: string, policy: CallbackUrlPolicy): string {
  if (isAllowedCallbackUrl(value, policy)) return value;
  throw invalid(
    'INVALID_CALLBACK_URL',
    policy.allowHttpLoopback
      ? 'callbackUrl must be https to a public host, or http to this machine (127.0.0.1, ::1, localhost), without credentials'
      : 'callbackUrl must be an https URL to a public host (no private, loopback or link-local address), without credentials',
  );
}
