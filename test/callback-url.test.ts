import { describe, expect, it } from 'vitest';
import { isAllowedCallbackUrl } from '../lambdas/app/callback-url.ts';

const aws = { allowHttpLoopback: false };
const local = { allowHttpLoopback: true };

describe('callback URLs', () => {
  it.each([
    'https://hooks.example.com/ser',
    'https://93.184.216.34:8443/hook', // a public address
    'https://[2606:4700::1111]/hook',
  ])('accepts %s', (url) => {
    expect(isAllowedCallbackUrl(url, aws)).toBe(true);
  });

  it.each([
    'http://hooks.example.com/ser', // not https
    'https://user:pw@example.com/hook', // credentials would be logged and stored
    'https://10.0.0.1/', // private networks
    'https://172.20.1.1/',
    'https://192.168.1.10/',
    'https://169.254.169.254/latest/meta-data', // link-local: cloud metadata
    'https://127.0.0.1:9001/2018-06-01/runtime/invocation/next', // this machine: Lambda's runtime API
    'https://127.1/', // the same, written short
    'https://0x7f000001/',
    'https://localhost/',
    'https://api.localhost/',
    'https://[::1]/',
    'https://[::ffff:127.0.0.1]/', // IPv4-mapped
    'https://[fd00::1]/', // unique local
    'https://[fe80::1]/',
    'https://100.64.0.1/', // carrier-grade NAT
    'https://0.0.0.0/',
    'https://224.0.0.1/',
    'https://localhost./', // fully qualified
    'https://[::127.0.0.1]/', // IPv4-compatible
    'https://[64:ff9b::a9fe:a9fe]/', // NAT64 of 169.254.169.254
    'https://[2002:a9fe:a9fe::]/', // 6to4 of the same
    'https://[2001:0:a9fe:a9fe::1]/', // Teredo
    'https://[fec0::1]/', // site-local
    'https://[100::1]/', // discard-only
    'https://192.0.2.1/', // documentation ranges
    'https://198.51.100.7/',
    'https://203.0.113.9/',
    'https://[2001:db8::1]/',
  ])('refuses %s on AWS', (url) => {
    expect(isAllowedCallbackUrl(url, aws)).toBe(false);
  });

  it('lets the local stack use plain http to this machine only', () => {
    for (const url of [
      'http://127.0.0.1:5900/h',
      'http://127.0.0.2/h',
      'http://localhost:8080/',
      'http://[::1]:5900/',
    ])
      expect(isAllowedCallbackUrl(url, local), url).toBe(true);
    for (const url of ['http://10.0.0.1/', 'http://example.com/', 'http://127.0.0.1/'])
      expect(isAllowedCallbackUrl(url, url === 'http://127.0.0.1/' ? aws : local), url).toBe(false);
  });
});
