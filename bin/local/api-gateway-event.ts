import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { ApiRoute } from '../../lambdas/app/routes.ts';
import { matchRoute } from './route-match.ts';

export interface HttpRequestParts {
  method: string;
  /** Path and query, as in an HTTP request line: `/predictions?limit=5`. */
  url: string;
  headers?: Record<string, string | string[] | undefined>;
  body?: string | undefined;
  sourceIp?: string;
}

export type ProxyEventResult =
  | { ok: true; event: APIGatewayProxyEvent; route: ApiRoute }
  | { ok: false; statusCode: 404 | 405; code: string; message: string };

/**
 * The request target as a URL, its path kept as sent: `new URL('//predictions', base)` would read
 * `predictions` as a host (and the path as `/`), where API Gateway routes the path `//predictions`.
 */
export function requestUrl(target: string, origin = 'http://local'): URL {
  return new URL(target.startsWith('/') ? `${origin}${target}` : target, origin);
}

/** API Gateway's answer for a request no resource takes: 405 for a known path, 404 otherwise. */
function noRoute(method: string, pathname: string, methodMismatch: boolean): ProxyEventResult {
  return methodMismatch
    ? { ok: false, statusCode: 405, code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed here` }
    : { ok: false, statusCode: 404, code: 'NOT_FOUND', message: `No route ${method} ${pathname}` };
}

/** Single-value headers (repeated ones joined by commas, as API Gateway does) and multi-value headers. */
function headersOf(raw: HttpRequestParts['headers']) {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  return { headers, multiValueHeaders };
}

/** Query parameters: the last value of each name, and all of them; `null` for both without a query. */
function queryOf(params: URLSearchParams) {
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of params) {
    query[name] = value;
    multiQuery[name] = [...(multiQuery[name] ?? []), value];
  }
  const hasQuery = Object.keys(query).length > 0;
  return {
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
  };
}

/** The caller as API Gateway describes it: source IP, user agent and the API key that passed. */
function identityOf(headers: Record<string, string>, sourceIp: string) {
  return {
    accessKey: null,
    accountId: null,
    apiKey: headers['x-api-key'] ?? null,
    // API Gateway names the key that passed the usage plan; the local stack has one.
    apiKeyId: headers['x-api-key'] ? 'local' : null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent: headers['user-agent'] ?? null,
    userArn: null,
  };
}

/**
 * The API Gateway REST proxy event for an HTTP request, as API Gateway builds it for our resources:
 * `resource` is the matched template, `pathParameters` its values, single- and multi-value headers and
 * query parameters. Unknown paths and methods are answered before any handler runs, as API Gateway does.
 */
export function toProxyEvent(request: HttpRequestParts): ProxyEventResult {
  const url = requestUrl(request.url);
  const match = matchRoute(request.method, url.pathname);
  if (!match.route) return noRoute(request.method, url.pathname, match.methodMismatch);
  const { headers, multiValueHeaders } = headersOf(request.headers);
  const event: APIGatewayProxyEvent = {
    resource: match.route.resource,
    path: url.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    ...queryOf(url.searchParams),
    pathParameters: match.pathParameters,
    stageVariables: null,
    body: request.body ?? null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method,
      identity: identityOf(headers, request.sourceIp ?? '127.0.0.1'),
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: match.route.resource,
    },
  };
  return { ok: true, event, route: match.route };
}
