/**
 * Who may call a route: anyone (`public`), holders of the user API key (`user`: uploads and
 * predictions, the web page), or operators (`admin`: training jobs, the model registry, the drop folder's
 * speakers' records and statistics). On AWS,
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
  { method: 'GET', resource: '/drop-folder/speakers/{id}/predictions', access: 'admin' },
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
