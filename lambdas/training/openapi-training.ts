import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { errorResponse, FORBIDDEN, jsonResponse } from '../app/openapi-responses.ts';
import { CreateTrainingJobSchema } from './job-service.ts';

/**
 * The training-jobs and models part of the API contract (merged into lambdas/app/openapi.ts). The
 * response schemas type the routes in lambdas/app/api.ts, so what the service returns must fit them.
 */
const ActivationModeSchema = z.enum(['if-better', 'always', 'never']);

export const QueuedTrainingJobSchema = z
  .object({ id: z.string(), status: z.literal('QUEUED') })
  .meta({ id: 'QueuedTrainingJob' });

export const TrainingJobSchema = z
  .object({
    id: z.string(),
    status: z.enum(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED']),
    dataset: z.string(),
    epochs: z.number().int(),
    augment: z.boolean(),
    activate: ActivationModeSchema,
    progress: z
      .object({ epoch: z.number().int(), epochs: z.number().int(), valAccuracy: z.number() })
      .optional(),
    modelVersion: z.string().optional(),
    metrics: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'Per evaluation split: accuracy, macroF1, …' }),
    activated: z.boolean().optional(),
    activationReason: z.string().optional(),
    error: z.string().optional(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'TrainingJob' });

export const TrainingJobListSchema = z
  .object({ items: z.array(TrainingJobSchema) })
  .meta({ id: 'TrainingJobList' });

export const ModelListSchema = z
  .object({
    active: z.string().nullable(),
    items: z.array(
      z.object({
        version: z.string(),
        source: z.enum(['bundled', 'trained']),
        sha256: z.string(),
        location: z
          .string()
          .optional()
          .meta({ examples: ['s3://bucket/models/tess-20261125T0830-1a2b3c4d/'] }),
        metrics: z.record(z.string(), z.unknown()),
        trainingJobId: z.string().optional(),
        createdAt: z.iso.datetime(),
        active: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'ModelList' });

export const ActivatedModelSchema = z
  .object({ active: z.string(), previousVersion: z.string().nullable(), activatedAt: z.iso.datetime() })
  .meta({ id: 'ActivatedModel' });

export const trainingPaths: ZodOpenApiPathsObject = {
  '/training-jobs': {
    post: {
      operationId: 'createTrainingJob',
      summary: 'Retrain on a dataset prefix of the bucket (one job at a time)',
      requestBody: {
        required: false,
        content: {
          'application/json': { schema: CreateTrainingJobSchema.meta({ id: 'CreateTrainingJobRequest' }) },
        },
      },
      responses: {
        '202': jsonResponse('Queued; poll GET /training-jobs/{id}', QueuedTrainingJobSchema),
        '400': errorResponse('Invalid body (INVALID_REQUEST, INVALID_JSON)'),
        '403': FORBIDDEN,
        '409': errorResponse('Another job is still running (JOB_RUNNING)'),
        '503': errorResponse('The training machine could not be started (TRAINING_UNAVAILABLE)'),
      },
    },
    get: {
      operationId: 'listTrainingJobs',
      summary: 'Training jobs, newest first',
      responses: { '200': jsonResponse('Jobs', TrainingJobListSchema), '403': FORBIDDEN },
    },
  },
  '/training-jobs/{id}': {
    get: {
      operationId: 'getTrainingJob',
      requestParams: { path: z.object({ id: z.string() }) },
      responses: {
        '200': jsonResponse('The job', TrainingJobSchema),
        '403': FORBIDDEN,
        '404': errorResponse('No such job (NOT_FOUND)'),
      },
    },
  },
  '/models': {
    get: {
      operationId: 'listModels',
      summary: 'Registered model versions with their metrics, and which one is active',
      responses: { '200': jsonResponse('The registry', ModelListSchema), '403': FORBIDDEN },
    },
  },
  '/models/{version}/activate': {
    post: {
      operationId: 'activateModel',
      summary: 'Put a registered version in service (also the way to roll back)',
      requestParams: { path: z.object({ version: z.string() }) },
      responses: {
        '200': jsonResponse('Activated; inference follows within MODEL_REFRESH_SEC', ActivatedModelSchema),
        '403': FORBIDDEN,
        '404': errorResponse('No such version (NOT_FOUND)'),
      },
    },
  },
};
