import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SHA-256 and HMAC-SHA-256 in the shape SignatureV4 asks for (`new (secret?) => { update, digest }`), over
 * node:crypto: the AWS SDK's own implementations are not installed as packages of their own in this tree
 * (@aws-crypto/sha256-js and @smithy/hash-node are absent), and this needs no new dependency.
 */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const toBytes = (data: string | ArrayBuffer | ArrayBufferView): Uint8Array | string =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The URL's query as SignatureV4 takes it: a key given more than once keeps all its values. */
function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  return query;
}

/**
 * A fetch for API Gateway's IAM-authorised routes: each request signed with SigV4 for `execute-api` in
 * `region`, with the credentials of the AWS SDK's default chain (environment, profile, SSO, instance role).
 */
export function sigV4Fetch(region: string): (request: Request) => Promise<Response> {
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  return async (request) => {
    const url = new URL(request.url);
    const body = request.body ? await request.text() : undefined;
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    const signed = await signer.sign({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: queryOf(url),
      // fetch sends Host itself (url.host, the same value): signed here, not passed on below.
      headers: { ...headers, host: url.host },
      ...(body === undefined ? {} : { body }),
    });
    const { host: _host, ...sent } = signed.headers;
    // The request's signal too: Ctrl-C during `--wait` aborts the signed request as it does the unsigned one.
    return fetch(url, {
      method: request.method,
      headers: sent,
      signal: request.signal,
      ...(body === undefined ? {} : { body }),
    });
  };
}
