/**
 * The public routes, in one place: the API handler dispatches on them, the CDK stack creates one API
 * Gateway method per route (with `apiKeyRequired`), the local adapter matches and guards with them, and
 * the OpenAPI document describes them.
 */
export const API_ROUTES = [
  { method: 'POST', resource: '/uploads', apiKeyRequired: true },
  { method: 'GET', resource: '/predictions', apiKeyRequired: true },
  { method: 'GET', resource: '/predictions/{id}', apiKeyRequired: true },
  { method: 'DELETE', resource: '/speakers/{id}', apiKeyRequired: true },
  { method: 'GET', resource: '/health', apiKeyRequired: false },
  { method: 'GET', resource: '/openapi.json', apiKeyRequired: false },
  { method: 'POST', resource: '/training-jobs', apiKeyRequired: true },
  { method: 'GET', resource: '/training-jobs', apiKeyRequired: true },
  { method: 'GET', resource: '/training-jobs/{id}', apiKeyRequired: true },
  { method: 'GET', resource: '/models', apiKeyRequired: true },
  { method: 'POST', resource: '/models/{version}/activate', apiKeyRequired: true },
] as const;

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
