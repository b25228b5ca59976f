import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { corsHeaders } from '../../lambdas/app/cors.ts';
import { type ApiRoute, CORS_PREFLIGHT } from '../../lambdas/app/routes.ts';
import { WEB_DIR } from '../../lib/paths.ts';
import { webPageConfig } from '../../lib/web-page-config.ts';
import { webSecurityHeaders } from '../../lib/web-security-headers.ts';
import { requestUrl, toProxyEvent } from './api-gateway-event.ts';
import { lambdaContext } from './lambda-context.ts';
import { matchRoute } from './route-match.ts';
import { readStaticFile } from './static-files.ts';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ApiAdapterOptions {
  host: string;
  port: number;
  /** The user credential (x-api-key) of the `user` routes. */
  apiKey: string;
  /** The operators' credential (x-api-key) of the `admin` routes. */
  adminKey: string;
  log: (line: string) => void;
  /** Origins CORS allows beside the web page's (which is the adapter's own). */
  extraAllowedOrigins?: readonly string[];
}

export interface ApiAdapter {
  server: Server;
  apiUrl: string;
  /**
   * From now on API routes go to this handler and the page gets its config.json (the handlers' upload
   * and duration limits); until then both answer 503. `uploadOrigin` is where the page's presigned
   * uploads go (the local S3), which its Content-Security-Policy lets it reach.
   */
  serve(
    handler: ApiHandler,
    config: { maxUploadBytes: number; maxDurationSec: number },
    uploadOrigin: string,
  ): void;
  /** Stops listening and ends open connections (kept-alive ones included). */
  close(): Promise<void>;
}

/** API Gateway's payload limit for a REST API (10 MB): it answers larger requests 413 before any handler. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares keys in constant time (over fixed-length digests, so the length leaks nothing either). */
const apiKeyMatches = (given: string | undefined, expected: string): boolean =>
  given !== undefined && timingSafeEqual(digest(given), digest(expected));

function sendJson(res: ServerResponse, statusCode: number, body: unknown, headers: Headers = {}): void {
  res.writeHead(statusCode, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

type Headers = Record<string, string>;

/** The adapter's own refusals; `headers` carries CORS, as API Gateway's gateway responses do. */
const sendError = (
  res: ServerResponse,
  statusCode: number,
  code: string,
  message: string,
  headers?: Headers,
) => sendJson(res, statusCode, { error: { code, message } }, headers);

/** API Gateway's CORS preflight (a mock integration on every resource, no key needed): 204 and the rules. */
function sendPreflight(res: ServerResponse, cors: Headers): void {
  res.writeHead(204, {
    ...cors,
    'Access-Control-Allow-Methods': CORS_PREFLIGHT.allowMethods.join(','),
    'Access-Control-Allow-Headers': CORS_PREFLIGHT.allowHeaders.join(','),
    'Access-Control-Max-Age': String(CORS_PREFLIGHT.maxAgeSeconds),
  });
  res.end();
}

/** The body as text, or `null` when it is over the limit (API Gateway refuses those too). */
async function readBody(req: IncomingMessage): Promise<string | undefined | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
}

/** The web page's config.json and the security headers CloudFront adds on AWS (lib/web-security-headers.ts). */
interface WebPage {
  config: ReturnType<typeof webPageConfig> | undefined;
  headers: Headers;
}

/** A GET (or HEAD) that is not an API route is a file of the web page (CloudFront's part on AWS); false: none. */
async function serveWebPage(res: ServerResponse, pathname: string, page: WebPage, headOnly: boolean) {
  if (pathname === '/config.json') {
    if (!page.config) return false;
    sendJson(res, 200, page.config, page.headers);
    return true;
  }
  const file = await readStaticFile(WEB_DIR, pathname);
  if (!file) return false;
  res.writeHead(200, {
    ...page.headers,
    'Content-Type': file.type,
    'Content-Length': file.body.length,
    'Cache-Control': 'no-cache',
  });
  res.end(headOnly ? undefined : file.body);
  return true;
}

/**
 * The same routes and access API Gateway is built from (lambdas/app/routes.ts); each route takes its own
 * credential only, as on AWS (the user key, or admin IAM auth). The refusal's message, or undefined.
 */
function refusal(route: ApiRoute, givenKey: string | undefined, options: ApiAdapterOptions) {
  const { access } = route;
  if (access === 'public') return undefined;
  if (apiKeyMatches(givenKey, access === 'admin' ? options.adminKey : options.apiKey)) return undefined;
  if (access === 'admin')
    return 'Forbidden: this route needs the admin credential (x-api-key: SER_ADMIN_KEY locally)';
  return apiKeyMatches(givenKey, options.adminKey)
    ? 'Forbidden: this route needs the user API key; the admin credential is for the admin routes only'
    : 'Forbidden: missing or invalid x-api-key';
}

function logWhenFinished(res: ServerResponse, method: string, url: URL, log: (line: string) => void): void {
  const started = performance.now();
  res.on('finish', () =>
    log(
      `${method} ${url.pathname}${url.search} ${res.statusCode} ${(performance.now() - started).toFixed(0)} ms`,
    ),
  );
}

/** An HTTP server on the adapter's address: a request that fails is a generic 500 (or a dropped socket). */
async function listen(
  options: ApiAdapterOptions,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      options.log(`API adapter error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_ERROR', 'Internal server error');
      else res.destroy();
    });
  });
  // Longer than clients keep idle sockets (undici: 4 s): otherwise a request on a socket the server just
  // closed fails with ECONNRESET, which a loaded machine makes frequent.
  server.keepAliveTimeout = 65_000;
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}

/**
 * An API Gateway-like adapter: it listens first (answering 503 on API routes until `serve` is called) so
 * that its origin is known before S3's CORS is configured, serves the web page, enforces x-api-key, and
 * hands the API handler the event API Gateway would build.
 */
export async function startApiAdapter(options: ApiAdapterOptions): Promise<ApiAdapter> {
  let apiHandler: ApiHandler | undefined;
  // Until `serve` names the local S3, the page may connect to its own origin only.
  const page: WebPage = { config: undefined, headers: webSecurityHeaders([]) };
  let apiUrl = '';

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = requestUrl(req.url ?? '/', apiUrl);
    logWhenFinished(res, method, url, options.log);
    const route = matchRoute(method === 'HEAD' ? 'GET' : method, url.pathname);
    const isPageRequest = (method === 'GET' || method === 'HEAD') && !route.route;
    if (isPageRequest && (await serveWebPage(res, url.pathname, page, method === 'HEAD'))) return;
    // The web page's origin (here, the adapter's own) and any others allowed, as CORS_ALLOW_ORIGIN says.
    const cors = corsHeaders([apiUrl, ...(options.extraAllowedOrigins ?? [])], req.headers.origin);
    const refuse = (statusCode: number, code: string, message: string) =>
      sendError(res, statusCode, code, message, cors);
    if (method === 'OPTIONS' && !route.route && route.methodMismatch) return sendPreflight(res, cors);
    if (!apiHandler) return refuse(503, 'STARTING', 'The stack is starting');

    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    if (body === null) {
      return refuse(413, 'PAYLOAD_TOO_LARGE', `The request body is over ${MAX_BODY_BYTES / 1024 / 1024} MB`);
    }
    const built = toProxyEvent({
      method,
      url: req.url ?? '/',
      headers: req.headers,
      body,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    });
    if (!built.ok) return refuse(built.statusCode, built.code, built.message);
    const refused = refusal(built.route, built.event.headers['x-api-key'], options);
    if (refused) return refuse(403, 'FORBIDDEN', refused);
    const result = await apiHandler(built.event, lambdaContext('api'));
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  }

  const server = await listen(options, handleHttp);
  apiUrl = `http://${options.host}:${(server.address() as AddressInfo).port}`;
  return {
    server,
    apiUrl,
    serve: (handler, config, uploadOrigin) => {
      apiHandler = handler;
      page.config = webPageConfig('', config.maxUploadBytes, config.maxDurationSec);
      page.headers = webSecurityHeaders([uploadOrigin]);
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
