import { API_ROUTES, type ApiRoute } from '../../lambdas/app/routes.ts';

/**
 * API Gateway's route matching, emulated for the local stack (its adapter and its Lambda-event builder);
 * on AWS API Gateway itself does this from the methods the stack creates out of `API_ROUTES`.
 */
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
