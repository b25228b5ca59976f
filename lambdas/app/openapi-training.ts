import * as z from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { MAX_ONNX_BYTES } from '../core/model/checksum.ts';
import { errorResponse, jsonResponse } from './openapi-responses.ts';
import {
  ActivatedModelSchema,
  CreateTrainingJobSchema,
  ModelListSchema,
  QueuedTrainingJobSchema,
  TrainingJobListSchema,
  TrainingJobSchema,
} from './training-schemas.ts';

/** The training-jobs and models part of the API contract (merged into openapi.ts), over training-schemas.ts. */

/** AWS: IAM (SigV4) auth; locally the admin key (SER_ADMIN_KEY) as x-api-key. Never the user key. */
export const ADMIN = [{ admin: [] }];
export const ADMIN_FORBIDDEN = errorResponse(
  'Missing or invalid admin credential (FORBIDDEN); the user API key is refused',
  'AdminForbidden',
);

export const trainingPaths: ZodOpenApiPathsObject = {
  '/training-jobs': {
    post: {
      operationId: 'createTrainingJob',
      security: ADMIN,
      summary: 'Retrain on a dataset prefix of the bucket (one job at a time)',
      requestBody: {
        required: false,
        content: {
          'application/json': { schema: CreateTrainingJobSchema.meta({ id: 'CreateTrainingJobRequest' }) },
        },
      },
      responses: {
        '202': jsonResponse('Queued; poll GET /training-jobs/{id}', QueuedTrainingJobSchema),
        '400': errorResponse(
          'Invalid body (INVALID_REQUEST, INVALID_JSON), or the dataset prefix holds nothing (DATASET_EMPTY, ' +
            'before any machine starts; the message names the bucket and how to upload there)',
        ),
        '403': ADMIN_FORBIDDEN,
        '409': errorResponse('Another job is still running (JOB_RUNNING)'),
        '503': errorResponse('The training machine could not be started (TRAINING_UNAVAILABLE)'),
      },
    },
    get: {
      operationId: 'listTrainingJobs',
      security: ADMIN,
      summary: 'Training jobs, newest first',
      responses: { '200': jsonResponse('Jobs', TrainingJobListSchema), '403': ADMIN_FORBIDDEN },
    },
  },
  '/training-jobs/{id}': {
    get: {
      operationId: 'getTrainingJob',
      security: ADMIN,
      requestParams: { path: z.object({ id: z.string() }) },
      responses: {
        '200': jsonResponse('The job', TrainingJobSchema),
        '403': ADMIN_FORBIDDEN,
        '404': errorResponse('No such job (NOT_FOUND)'),
      },
    },
  },
  '/models': {
    get: {
      operationId: 'listModels',
      security: ADMIN,
      summary: 'Registered model versions with their metrics, and which one is active',
      responses: { '200': jsonResponse('The registry', ModelListSchema), '403': ADMIN_FORBIDDEN },
    },
  },
  '/models/{version}/activate': {
    post: {
      operationId: 'activateModel',
      security: ADMIN,
      summary: 'Put a registered version in service (also the way to roll back)',
      requestParams: { path: z.object({ version: z.string() }) },
      responses: {
        '200': jsonResponse('Activated; inference follows within MODEL_REFRESH_SEC', ActivatedModelSchema),
        '403': ADMIN_FORBIDDEN,
        '404': errorResponse('No such version (NOT_FOUND)'),
        '409': errorResponse(
          'The version cannot serve (MODEL_UNAVAILABLE): no package in the bucket and not the bundled model; ' +
            'objects of its package (metadata.json, the ONNX file) missing from the bucket (or not readable by ' +
            'the API: 403); or not a valid package (metadata unreadable, or not the version or sha256 ' +
            `registered, or an ONNX whose checksum does not match or over ${MAX_ONNX_BYTES / 1024 / 1024} MB). The message names the objects`,
        ),
      },
    },
  },
};
