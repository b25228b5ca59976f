import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import { DomainError, type DomainErrorKind } from './domain-error.ts';
import { badRequest, HttpError, notFound } from './http-error.ts';
import { openApiDocument } from './openapi.ts';
import type { PredictionRepository } from './prediction-repository.ts';
import type { RouteKey } from './routes.ts';
import type { CreatedUpload } from './upload-service.ts';

/** The admin routes' operations (lambdas/training implements them; app does not import training). */
export interface TrainingOperations {
  createJob(body: unknown): Promise<unknown>;
  listJobs(): Promise<unknown>;
  getJob(id: string | undefined): Promise<unknown>;
  listModels(): Promise<unknown>;
  activateModel(version: string | undefined): Promise<unknown>;
  activeModelVersion(): Promise<string | undefined>;
}

/** Services throw domain errors; this is the one place they become HTTP statuses. */
const STATUS_OF: Record<DomainErrorKind, number> = {
  invalid: 400,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
};

export interface ApiDeps {
  createUpload: (body: unknown) => Promise<CreatedUpload>;
  repository: Pick<PredictionRepository, 'get' | 'list'>;
  modelVersion: string;
  /** Training jobs and the model registry; without it those routes answer 404 (not enabled). */
  training?: TrainingOperations;
  corsAllowOrigin: string;
  /** Called with unexpected errors before they become a generic 500. */
  onUnexpectedError?: (error: unknown) => void;
}

const PredictionIdSchema = z.string().regex(/^[\w-]{1,64}$/);
const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(2048).optional(),
});

type Route = (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: unknown }>;

function parseJsonBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) throw badRequest('INVALID_REQUEST', 'A JSON body is required');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('INVALID_JSON', 'The body is not valid JSON');
  }
}

/**
 * The REST API as one function of an API Gateway proxy event. API keys are checked before this runs
 * (by API Gateway's usage plan, or the local adapter); errors the caller can act on are 4xx with a code,
 * anything else is a generic 500 that exposes nothing.
 */
export function createApiHandler(deps: ApiDeps) {
  const training = () => {
    if (!deps.training) throw notFound('Training is not enabled on this deployment');
    return deps.training;
  };
  const routes: Record<RouteKey, Route> = {
    'POST /uploads': async (event) => ({
      statusCode: 201,
      body: await deps.createUpload(parseJsonBody(event)),
    }),
    'GET /predictions/{id}': async (event) => {
      const id = PredictionIdSchema.safeParse(event.pathParameters?.id);
      const prediction = id.success ? await deps.repository.get(id.data) : undefined;
      if (!prediction) throw notFound(`No prediction with id ${event.pathParameters?.id ?? ''}`);
      return { statusCode: 200, body: prediction };
    },
    'GET /predictions': async (event) => {
      const query = ListQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw badRequest('INVALID_REQUEST', 'limit must be an integer from 1 to 100');
      return { statusCode: 200, body: await deps.repository.list(query.data) };
    },
    'GET /health': async () => ({
      statusCode: 200,
      // The registry's active version when there is a registry: what new predictions will report.
      body: { status: 'ok', modelVersion: (await deps.training?.activeModelVersion()) ?? deps.modelVersion },
    }),
    'POST /training-jobs': async (event) => ({
      statusCode: 202,
      body: await training().createJob(event.body ? parseJsonBody(event) : {}),
    }),
    'GET /training-jobs': async () => ({ statusCode: 200, body: await training().listJobs() }),
    'GET /training-jobs/{id}': async (event) => ({
      statusCode: 200,
      body: await training().getJob(event.pathParameters?.id),
    }),
    'GET /models': async () => ({ statusCode: 200, body: await training().listModels() }),
    'POST /models/{version}/activate': async (event) => ({
      statusCode: 200,
      body: await training().activateModel(event.pathParameters?.version),
    }),
    'GET /openapi.json': async () => ({ statusCode: 200, body: openApiDocument }),
  };

  const respond = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
    statusCode,
    headers: {
      'Content-Type': 'application/json',
      'Access-Control-Allow-Origin': deps.corsAllowOrigin,
      'Cache-Control': 'no-store',
    },
    body: JSON.stringify(body),
  });

  return async function handleApiRequest(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const route = routes[`${event.httpMethod} ${event.resource}` as RouteKey];
    try {
      if (!route) throw new HttpError(404, 'NOT_FOUND', `No route ${event.httpMethod} ${event.path}`);
      const { statusCode, body } = await route(event);
      return respond(statusCode, body);
    } catch (error) {
      if (error instanceof HttpError) {
        return respond(error.statusCode, { error: { code: error.code, message: error.message } });
      }
      if (error instanceof DomainError) {
        return respond(STATUS_OF[error.kind], { error: { code: error.code, message: error.message } });
      }
      deps.onUnexpectedError?.(error);
      return respond(500, { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    }
  };
}
