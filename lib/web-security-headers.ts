/**
 * The web page's security headers, one home for both ways it is served: CloudFront's response headers
 * policy on AWS (constructs/web-site.ts) and the local stack's adapter (bin/local/api-adapter.ts). Only
 * `connect-src` differs: the API and the upload URLs live elsewhere on each.
 */

/** The page's Content-Security-Policy: its own scripts and styles only (no inline script). */
export const webContentSecurityPolicy = (connectSources: readonly string[]): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    `connect-src ${["'self'", ...connectSources].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

/** Where the page connects on AWS beside itself: the API (execute-api) and the presigned S3 uploads. */
export const awsConnectSources = (region: string): string[] => [
  `https://*.execute-api.${region}.amazonaws.com`,
  `https://*.s3.${region}.amazonaws.com`,
  'https://*.s3.amazonaws.com',
];

/** X-Frame-Options: never in a frame (frame-ancestors says the same to browsers that read CSP). */
export const WEB_FRAME_OPTION = 'DENY';
/** Referrer-Policy: the page's address (and a key in its query, were there one) goes nowhere. */
export const WEB_REFERRER_POLICY = 'no-referrer';

/**
 * The headers as HTTP names them, for a server of the page other than CloudFront (HSTS aside: it means
 * nothing over the local stack's plain HTTP).
 */
export const webSecurityHeaders = (connectSources: readonly string[]): Record<string, string> => ({
  'Content-Security-Policy': webContentSecurityPolicy(connectSources),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': WEB_FRAME_OPTION,
  'Referrer-Policy': WEB_REFERRER_POLICY,
  'X-XSS-Protection': '1; mode=block',
});
