import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type * as z from 'zod';
import {
  type CreatedUpload,
  CreatedUploadSchema,
  HealthSchema,
  ListPredictionsQuerySchema,
  PageQuerySchema,
  PredictionIdSchema,
  PredictionPageSchema,
  PredictionSchema,
  SpeakerErasedSchema,
  SpeakerIdSchema,
} from './api-schemas.ts';
import { corsHeaders } from './cors.ts';
import { DomainError, type DomainErrorKind, invalid, invalidRequest, notFound } from './domain-error.ts';
import { openApiDocument } from './openapi.ts';
import type { PredictionRepository } from './prediction-repository.ts';
import type { RouteKey } from './routes.ts';
import { dropFolderScope, speakerScope } from './speaker-context.ts';
import type { SpeakerErasure } from './speaker-erasure.ts';
import {
  ActivatedModelSchema,
  ModelListSchema,
  QueuedTrainingJobSchema,
  TrainingJobListSchema,
  TrainingJobSchema,
} from './training-schemas.ts';
import type { UploadCaller } from './upload-service.ts';

type Out<S extends z.ZodType> = Promise<z.output<S>>;

/**
 * The admin routes' operations, typed by their response schemas: lambdas/training implements them,
 * and app does not import training (training builds on app, one direction).
 */
export interface TrainingOperations {
  createJob(body: unknown): Out<typeof QueuedTrainingJobSchema>;
  listJobs(): Out<typeof TrainingJobListSchema>;
  getJob(id: string | undefined): Out<typeof TrainingJobSchema>;
  listModels(): Out<typeof ModelListSchema>;
  activateModel(version: string | undefined): Out<typeof ActivatedModelSchema>;
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
  createUpload: (body: unknown, caller: UploadCaller) => Promise<CreatedUpload>;
  repository: Pick<PredictionRepository, 'get' | 'list' | 'listBySpeaker'>;
  /**
   * Erases a speaker in the given scopes: its statistics, and a bounded number of its records with their
   * objects (speaker-erasure.ts; DELETE /speakers/{id}). Without it that route answers 404.
   */
  eraseSpeaker?: (scopes: readonly string[], speakerId: string) => Promise<SpeakerErasure>;
  /** DROP_FOLDER_SPEAKER_PREFIXES: the drop folder's speaker scopes, which its erase and listing routes cover. */
  dropFolderSpeakerPrefixes?: readonly string[];
  /** The bundled model's version: what GET /health reports while the registry has no active version. */
  modelVersion: string;
  /** Training jobs and the model registry; without it those routes answer 404 (not enabled). */
  training?: TrainingOperations;
  /** The web page's origin first, then any others allowed (lambdas/app/cors.ts). */
  corsAllowOrigins: readonly string[];
  /** Called with unexpected errors before they become a generic 500. */
  onUnexpectedError?: (error: unknown) => void;
}

/** The caller's API key (API Gateway's key id; the local adapter's): it owns uploads' speaker ids. */
const callerOf = (event: APIGatewayProxyEvent) => ({
  apiKeyId: event.requestContext?.identity?.apiKeyId ?? undefined,
});

type Route = (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: unknown }>;

/** A response whose body must fit the schema the OpenAPI document declares for it (checked by tsc). */
const reply = <S extends z.ZodType>(_schema: S, statusCode: number, body: z.output<S>) => ({
  statusCode,
  body,
});

function parseJsonBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) throw invalid('INVALID_REQUEST', 'A JSON body is required');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    // A UTF-8 byte-order mark (some Windows tools write one) is not part of the JSON.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw invalid('INVALID_JSON', 'The body is not valid JSON');
  }
}

type PredictionRoutes = Extract<
  RouteKey,
  | 'POST /uploads'
  | 'DELETE /speakers/{id}'
  | 'DELETE /drop-folder/speakers/{id}'
  | 'GET /drop-folder/speakers/{id}/predictions'
  | 'GET /predictions/{id}'
  | 'GET /predictions'
>;
type TrainingRoutes = Exclude<RouteKey, PredictionRoutes | 'GET /health' | 'GET /openapi.json'>;

/**
 * Erases one speaker in each of `scopes` (an API key's; or the drop folder's speaker prefixes, each its
 * own scope: the id is erased under every one of them): statistics, and records with their objects.
 */
async function eraseSpeaker(
  deps: ApiDeps,
  event: APIGatewayProxyEvent,
  scopes: readonly string[],
  covered: { speakerPrefixes?: string[] } = {},
) {
  if (!deps.eraseSpeaker) throw notFound('Speaker statistics are not enabled on this deployment');
  const speakerId = SpeakerIdSchema.safeParse(event.pathParameters?.id);
  if (!speakerId.success) throw invalidRequest(speakerId.error, 'speakerId');
  const erasure = await deps.eraseSpeaker(scopes, speakerId.data);
  return reply(SpeakerErasedSchema, 200, { speakerId: speakerId.data, ...erasure, ...covered });
}

/** GET /predictions: the newest records, or one speaker's of the caller's scope (`speakerId`). */
async function listPredictions(deps: ApiDeps, event: APIGatewayProxyEvent) {
  const query = ListPredictionsQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw invalidRequest(query.error);
  const { speakerId, ...page } = query.data;
  const listed = speakerId
    ? await deps.repository.listBySpeaker({ scope: speakerScope(callerOf(event)), speakerId }, page)
    : await deps.repository.list(page);
  return reply(PredictionPageSchema, 200, listed);
}

/**
 * GET /drop-folder/speakers/{id}/predictions: a drop-folder speaker's records under every speaker prefix
 * (the scopes its erase route covers; none without prefixes), newest first, as one listing.
 */
async function listDropFolderSpeaker(deps: ApiDeps, event: APIGatewayProxyEvent) {
  const speakerId = SpeakerIdSchema.safeParse(event.pathParameters?.id);
  if (!speakerId.success) throw invalidRequest(speakerId.error, 'speakerId');
  const page = PageQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!page.success) throw invalidRequest(page.error);
  const refs = (deps.dropFolderSpeakerPrefixes ?? []).map((prefix) => ({
    scope: dropFolderScope(prefix),
    speakerId: speakerId.data,
  }));
  return reply(PredictionPageSchema, 200, await deps.repository.listBySpeaker(refs, page.data));
}

/** Uploads, predictions and speaker statistics: the user routes (and the drop folder's speakers, admin). */
function predictionRoutes(deps: ApiDeps): Record<PredictionRoutes, Route> {
  return {
    'POST /uploads': async (event) =>
      reply(CreatedUploadSchema, 201, await deps.createUpload(parseJsonBody(event), callerOf(event))),
    'DELETE /speakers/{id}': (event) => eraseSpeaker(deps, event, [speakerScope(callerOf(event))]),
    'DELETE /drop-folder/speakers/{id}': (event) => {
      // Said in the answer: without prefixes the call can find nothing (ser admin erase-speaker warns).
      const speakerPrefixes = [...(deps.dropFolderSpeakerPrefixes ?? [])];
      return eraseSpeaker(deps, event, speakerPrefixes.map(dropFolderScope), { speakerPrefixes });
    },
    'GET /drop-folder/speakers/{id}/predictions': (event) => listDropFolderSpeaker(deps, event),
    'GET /predictions/{id}': async (event) => {
      // Only prediction ids are looked up: internal items of the table are never reachable here.
      const id = PredictionIdSchema.safeParse(event.pathParameters?.id);
      const prediction = id.success ? await deps.repository.get(id.data) : undefined;
      if (!prediction) throw notFound(`No prediction with id ${event.pathParameters?.id ?? ''}`);
      return reply(PredictionSchema, 200, prediction);
    },
    'GET /predictions': (event) => listPredictions(deps, event),
  };
}

/** Training jobs and the model registry: the admin routes, 404 when training is not wired in. */
function trainingRoutes(deps: ApiDeps): Record<TrainingRoutes, Route> {
  const training = () => {
    if (!deps.training) throw notFound('Training is not enabled on this deployment');
    return deps.training;
  };
  return {
    'POST /training-jobs': async (event) =>
      reply(QueuedTrainingJobSchema, 202, await training().createJob(event.body ? parseJsonBody(event) : {})),
    'GET /training-jobs': async () => reply(TrainingJobListSchema, 200, await training().listJobs()),
    'GET /training-jobs/{id}': async (event) =>
      reply(TrainingJobSchema, 200, await training().getJob(event.pathParameters?.id)),
    'GET /models': async () => reply(ModelListSchema, 200, await training().listModels()),
    'POST /models/{version}/activate': async (event) =>
      reply(ActivatedModelSchema, 200, await training().activateModel(event.pathParameters?.version)),
  };
}

/**
 * The REST API as one function of an API Gateway proxy event. API keys are checked before this runs
 * (by API Gateway's usage plan, or the local adapter); errors the caller can act on are 4xx with a code,
 * anything else is a generic 500 that exposes nothing.
 */
export function createApiHandler(deps: ApiDeps) {
  const routes: Record<RouteKey, Route> = {
    ...predictionRoutes(deps),
    ...trainingRoutes(deps),
    'GET /health': async () =>
      reply(HealthSchema, 200, {
        status: 'ok',
        // The registry's active version when there is a registry: what new predictions will report.
        modelVersion: (await deps.training?.activeModelVersion()) ?? deps.modelVersion,
      }),
    'GET /openapi.json': async () => ({ statusCode: 200, body: openApiDocument }),
  };

  const respondTo =
    (event: APIGatewayProxyEvent) =>
    (statusCode: number, body: unknown): APIGatewayProxyResult => ({
      statusCode,
      headers: {
        'Content-Type': 'application/json',
        ...corsHeaders(deps.corsAllowOrigins, event.headers?.origin ?? event.headers?.Origin),
        'Cache-Control': 'no-store',
      },
      body: JSON.stringify(body),
    });

  return async function handleApiRequest(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const route = routes[`${event.httpMethod} ${event.resource}` as RouteKey];
    const respond = respondTo(event);
    try {
      if (!route) throw notFound(`No route ${event.httpMethod} ${event.path}`);
      const { statusCode, body } = await route(event);
      return respond(statusCode, body);
    } catch (error) {
      if (error instanceof DomainError) {
        return respond(STATUS_OF[error.kind], { error: { code: error.code, message: error.message } });
      }
      deps.onUnexpectedError?.(error);
      return respond(500, { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    }
  };
}
