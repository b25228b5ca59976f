import { ERROR_CODES } from '../core/errors.ts';
import { trainingPaths, trainingSchemas } from '../training/openapi-training.ts';

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', examples: ['UNSUPPORTED_FORMAT'] }, message: { type: 'string' } },
    },
  },
} as const;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** The API contract, served at GET /openapi.json. */
export const openApiDocument = {
  openapi: '3.0.3',
  info: {
    title: 'SER API',
    version: '1.0.0',
    description:
      'Speech emotion recognition. Create an upload, send the audio to the presigned URL, then poll the prediction. ' +
      'Every route except /health and /openapi.json needs the `x-api-key` header.',
  },
  servers: [{ url: '/' }],
  security: [{ apiKey: [] }],
  paths: {
    '/uploads': {
      post: {
        operationId: 'createUpload',
        summary: 'Get a presigned upload for one audio file (WAV, MP3, OGG, FLAC; default limit 25 MB)',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateUploadRequest' } } },
        },
        responses: {
          '201': {
            description:
              'Upload with `upload.method`: PUT the raw bytes to `url` with `headers` (Content-Length must equal ' +
              'sizeBytes), or POST a multipart form with `fields` then the `file` part.',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/CreatedUpload' } } },
          },
          '400': errorResponse(
            'Invalid body, unsupported type, empty or too large (codes INVALID_REQUEST, ' +
              'INVALID_JSON, UNSUPPORTED_FORMAT, EMPTY_AUDIO, TOO_LARGE)',
          ),
          '403': errorResponse('Missing or invalid API key'),
          '429': errorResponse('Throttled or over quota'),
        },
      },
    },
    '/predictions': {
      get: {
        operationId: 'listPredictions',
        summary: 'Recent predictions, newest first',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          {
            name: 'cursor',
            in: 'query',
            schema: { type: 'string' },
            description: '`nextCursor` of the previous page',
          },
        ],
        responses: {
          '200': {
            description: 'A page of predictions',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['items'],
                  properties: {
                    items: { type: 'array', items: { $ref: '#/components/schemas/Prediction' } },
                    nextCursor: { type: 'string' },
                  },
                },
              },
            },
          },
          '400': errorResponse('Invalid limit or cursor'),
          '403': errorResponse('Missing or invalid API key'),
        },
      },
    },
    '/predictions/{id}': {
      get: {
        operationId: 'getPrediction',
        summary: 'One prediction (poll until SUCCEEDED or FAILED)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'The prediction',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Prediction' } } },
          },
          '403': errorResponse('Missing or invalid API key'),
          '404': errorResponse('No such prediction'),
        },
      },
    },
    '/speakers/{id}': {
      delete: {
        operationId: 'eraseSpeaker',
        summary: "Erase a speaker's statistics (later clips of that speakerId start afresh)",
        description:
          'Only aggregates are stored per speaker (count, mean and spread of a few per-clip feature means; ' +
          'no audio, no per-clip values), scoped to the API key, deleted SPEAKER_TTL_DAYS after the last clip.',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { $ref: '#/components/schemas/SpeakerId' } },
        ],
        responses: {
          '200': {
            description: 'Erased (or there was nothing to erase)',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['speakerId', 'erased'],
                  properties: { speakerId: { type: 'string' }, erased: { type: 'boolean' } },
                },
              },
            },
          },
          '400': errorResponse('Invalid speakerId'),
          '403': errorResponse('Missing or invalid API key'),
        },
      },
    },
    '/health': {
      get: {
        operationId: 'health',
        security: [],
        responses: {
          '200': {
            description: 'The service is up',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['status', 'modelVersion'],
                  properties: { status: { type: 'string', enum: ['ok'] }, modelVersion: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openApi',
        security: [],
        responses: { '200': { description: 'This document', content: { 'application/json': {} } } },
      },
    },
    ...trainingPaths,
  },
  components: {
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    schemas: {
      Error: error,
      ...trainingSchemas,
      CreateUploadRequest: {
        type: 'object',
        required: ['fileName'],
        // Unknown fields are refused with 400 INVALID_REQUEST: a typo (`size` for `sizeBytes`) must not
        // silently turn a size-checked PUT into an unchecked upload.
        additionalProperties: false,
        properties: {
          fileName: { type: 'string', minLength: 1, maxLength: 255, examples: ['clip.wav'] },
          contentType: { type: 'string', enum: ['audio/wav', 'audio/mpeg', 'audio/ogg', 'audio/flac'] },
          sizeBytes: {
            type: 'integer',
            minimum: 1,
            description: 'When given, the upload is a PUT signed for it',
          },
          speakerId: {
            $ref: '#/components/schemas/SpeakerId',
            description:
              "A speaker (or room) context, scoped to the API key: once the model's minimum of earlier clips " +
              'of this speaker is known, the prediction is judged against them (see `adaptation`).',
          },
        },
      },
      SpeakerId: {
        type: 'string',
        minLength: 1,
        maxLength: 128,
        pattern: '^[^/]+$',
        description: 'Opaque: any printable characters but "/"',
        examples: ['agent-17'],
      },
      CreatedUpload: {
        type: 'object',
        required: ['id', 'upload', 'expiresAt', 'predictionUrl'],
        properties: {
          id: { type: 'string' },
          upload: {
            type: 'object',
            required: ['method', 'url'],
            properties: {
              method: { type: 'string', enum: ['PUT', 'POST'] },
              url: { type: 'string', format: 'uri' },
              headers: { type: 'object', additionalProperties: { type: 'string' } },
              fields: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
          expiresAt: { type: 'string', format: 'date-time' },
          predictionUrl: { type: 'string', examples: ['/predictions/0b6c…'] },
        },
      },
      Probabilities: { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } },
      Segment: {
        type: 'object',
        required: ['startSec', 'endSec', 'emotion', 'confidence', 'probabilities'],
        properties: {
          startSec: { type: 'number' },
          endSec: { type: 'number' },
          emotion: { type: 'string' },
          confidence: { type: 'number' },
          probabilities: { $ref: '#/components/schemas/Probabilities' },
        },
      },
      Prediction: {
        type: 'object',
        required: ['id', 'status', 'source', 'fileName', 'createdAt', 'updatedAt'],
        properties: {
          id: { type: 'string' },
          status: { type: 'string', enum: ['PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED'] },
          source: { type: 'string', enum: ['api', 'drop-folder'] },
          fileName: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
          emotion: { type: 'string' },
          confidence: { type: 'number' },
          probabilities: { $ref: '#/components/schemas/Probabilities' },
          segments: { type: 'array', items: { $ref: '#/components/schemas/Segment' } },
          durationSec: { type: 'number' },
          modelVersion: { type: 'string' },
          speakerId: { type: 'string', description: 'The speaker context the clip was sent with' },
          adaptation: {
            type: 'object',
            description: "Present when the prediction was adapted to the speaker's earlier clips",
            required: ['clips'],
            properties: { clips: { type: 'integer', minimum: 1, description: 'Earlier clips it knew' } },
          },
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string', enum: [...ERROR_CODES] }, message: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;
