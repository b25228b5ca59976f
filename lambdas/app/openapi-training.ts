/** The training-jobs and models part of the OpenAPI document (merged into lambdas/app/openapi.ts). */
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

export const trainingPaths = {
  '/training-jobs': {
    post: {
      operationId: 'createTrainingJob',
      summary: 'Retrain on a dataset prefix of the bucket (one job at a time)',
      requestBody: { required: false, content: json('CreateTrainingJobRequest') },
      responses: {
        '202': { description: 'Queued; poll GET /training-jobs/{id}', content: json('QueuedTrainingJob') },
        '400': errorResponse('Invalid body (INVALID_REQUEST, INVALID_JSON)'),
        '403': errorResponse('Missing or invalid API key'),
        '409': errorResponse('Another job is still running (JOB_RUNNING)'),
        '503': errorResponse('The training machine could not be started (TRAINING_UNAVAILABLE)'),
      },
    },
    get: {
      operationId: 'listTrainingJobs',
      summary: 'Training jobs, newest first',
      responses: {
        '200': {
          description: 'Jobs',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: { items: { type: 'array', items: { $ref: '#/components/schemas/TrainingJob' } } },
              },
            },
          },
        },
        '403': errorResponse('Missing or invalid API key'),
      },
    },
  },
  '/training-jobs/{id}': {
    get: {
      operationId: 'getTrainingJob',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '200': { description: 'The job', content: json('TrainingJob') },
        '403': errorResponse('Missing or invalid API key'),
        '404': errorResponse('No such job'),
      },
    },
  },
  '/models': {
    get: {
      operationId: 'listModels',
      summary: 'Registered model versions with their metrics, and which one is active',
      responses: {
        '200': { description: 'The registry', content: json('ModelList') },
        '403': errorResponse('Missing or invalid API key'),
      },
    },
  },
  '/models/{version}/activate': {
    post: {
      operationId: 'activateModel',
      summary: 'Put a registered version in service (also the way to roll back)',
      parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '200': {
          description: 'Activated; inference follows within MODEL_REFRESH_SEC',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['active', 'activatedAt'],
                properties: {
                  active: { type: 'string' },
                  previousVersion: { type: 'string', nullable: true },
                  activatedAt: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
        '403': errorResponse('Missing or invalid API key'),
        '404': errorResponse('No such version'),
      },
    },
  },
} as const;

export const trainingSchemas = {
  CreateTrainingJobRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      dataset: { type: 'string', default: 'datasets/tess/', description: 'S3 prefix of the clips' },
      epochs: { type: 'integer', minimum: 1, maximum: 200, default: 30 },
      augment: { type: 'boolean', default: false },
      activate: {
        type: 'string',
        enum: ['if-better', 'always', 'never'],
        default: 'if-better',
        description: 'if-better: only when macro-F1 on the tess-random split beats the active model',
      },
    },
  },
  QueuedTrainingJob: {
    type: 'object',
    required: ['id', 'status'],
    properties: { id: { type: 'string' }, status: { type: 'string', enum: ['QUEUED'] } },
  },
  TrainingJob: {
    type: 'object',
    required: ['id', 'status', 'dataset', 'epochs', 'augment', 'activate', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string' },
      status: { type: 'string', enum: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] },
      dataset: { type: 'string' },
      epochs: { type: 'integer' },
      augment: { type: 'boolean' },
      activate: { type: 'string', enum: ['if-better', 'always', 'never'] },
      progress: {
        type: 'object',
        properties: {
          epoch: { type: 'integer' },
          epochs: { type: 'integer' },
          valAccuracy: { type: 'number' },
        },
      },
      modelVersion: { type: 'string' },
      metrics: { type: 'object', description: 'Per evaluation split: accuracy, macroF1, …' },
      activated: { type: 'boolean' },
      activationReason: { type: 'string' },
      error: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
    },
  },
  ModelList: {
    type: 'object',
    required: ['active', 'items'],
    properties: {
      active: { type: 'string', nullable: true },
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['version', 'source', 'sha256', 'metrics', 'createdAt', 'active'],
          properties: {
            version: { type: 'string' },
            source: { type: 'string', enum: ['bundled', 'trained'] },
            sha256: { type: 'string' },
            location: { type: 'string', examples: ['s3://bucket/models/tess-20261125T0830-1a2b3c4d/'] },
            metrics: { type: 'object' },
            trainingJobId: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            active: { type: 'boolean' },
          },
        },
      },
    },
  },
} as const;
