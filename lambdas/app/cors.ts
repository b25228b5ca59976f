/**
 * CORS on the API's own answers. The first allowed origin is the web page's; a deployer may add others
 * (their own front end, a dev server): the answer then names the caller's origin when it is one of them,
 * and says it varies by Origin so that no cache hands one origin's answer to another.
 */
export function corsHeaders(
  allowed: readonly string[],
  requestOrigin: string | undefined,
): Record<string, string> {
  if (allowed.length <= 1) return { 'Access-Control-Allow-Origin': allowed[0] ?? '*' };
  const origin = requestOrigin && allowed.includes(requestOrigin) ? requestOrigin : allowed[0]!;
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
}

/** `CORS_ALLOW_ORIGIN`'s comma-separated list. */
export const parseOrigins = (value: string): string[] =>
  value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);

/** Each must be an origin (http(s), host, optional port; no path), never `*`: else an Error naming it. */
export function checkedOrigins(origins: readonly string[], setting: string): string[] {
  return origins.map((origin) => {
    const parsed = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin)
      throw new Error(`${setting}: ${JSON.stringify(origin)} is not an origin like https://app.example.com`);
    return origin;
  });
}
