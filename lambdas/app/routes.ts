/**
 * Who may call a route: anyone (`public`), holders of the user API key (`user`: uploads and
 * predictions, the web page), or operators (`admin`: training jobs, the model registry, the drop folder's
 * speaker statistics). On AWS,
 * `user` is an API key in the usage plan and `admin` is IAM (SigV4) auth, which no API key satisfies;
 * locally, `admin` is the `SER_ADMIN_KEY` sent as x-api-key.
 */
export type RouteAccess = 'public' | 'user' | 'admin';

/**
 * The public routes, in one place: the API handler dispatches on them, the CDK stack creates one API
 * Gateway method per route (with its access), the local adapter matches and guards with them, and
 * the OpenAPI document describes them.
 */
export const API_ROUTES = [
  { method: 'POST', resource: '/uploads', access: 'user' },
  { method: 'GET', resource: '/predictions', access: 'user' },
  { method: 'GET', resource: '/predictions/{id}', access: 'user' },
  { method: 'DELETE', resource: '/speakers/{id}', access: 'user' },
  { method: 'DELETE', resource: '/drop-folder/speakers/{id}', access: 'admin' },
  { method: 'GET', resource: '/health', access: 'public' },
  { method: 'GET', resource: '/openapi.json', access: 'public' },
  { method: 'POST', resource: '/training-jobs', access: 'admin' },
  { method: 'GET', resource: '/training-jobs', access: 'admin' },
  { method: 'GET', resource: '/training-jobs/{id}', access: 'admin' },
  { method: 'GET', resource: '/models', access: 'admin' },
  { method: 'POST', resource: '/models/{version}/activate', access: 'admin' },
] as const satisfies readonly { method: string; resource: string; access: RouteAccess }[];

export type ApiRoute = (typeof API_ROUTES)[number];
type KeyOf<R> = R extends ApiRoute ? `${R['method']} ${R['resource']}` : never;
export type RouteKey = KeyOf<ApiRoute>;

export interface RouteMatch {
  route: ApiRoute;
  pathParameters: Record<string, string> | null;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** API Gateway's matching for our resources: literal segments, `{name}` for exactly one segment. */
export function matchRoute(
  method: string,
  path: string,
): RouteMatch | { route: undefined; methodMismatch: boolean } {
  const segments = path.replace(/\/+$/, '').split('/').slice(1);
  let methodMismatch = false;
  for (const route of API_ROUTES) {
    const template = route.resource.split('/').slice(1);
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = template.every((part, i) => {
      const segment = segments[i]!;
      if (part.startsWith('{')) {
        // A malformed escape (`%E0%A4%A`) matches nothing (a 404), instead of a URIError and a 500.
        const value = safeDecode(segment);
        if (value === undefined) return false;
        params[part.slice(1, -1)] = value;
        return segment.length > 0;
      }
      return part === segment;
    });
    if (!matches) continue;
    if (route.method !== method) {
      methodMismatch = true;
      continue;
    }
    return { route, pathParameters: Object.keys(params).length > 0 ? params : null };
  }
  return { route: undefined, methodMismatch };
}

/**
 * What a browser's CORS preflight is told, for every route: API Gateway's preflight (CDK
 * `defaultCorsPreflightOptions`) and the local adapter answer from this one list. The methods are the
 * routes' own, so a route added above is allowed without a second edit.
 */
export const CORS_PREFLIGHT = {
  allowMethods: [...new Set<string>(API_ROUTES.map((r) => r.method)), 'OPTIONS'],
  allowHeaders: ['content-type', 'x-api-key', 'authorization', 'x-amz-date', 'x-amz-security-token'],
  maxAgeSeconds: 3600,
} as const;
