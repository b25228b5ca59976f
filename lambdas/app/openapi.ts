import * as z from 'zod';
import { createDocument, type ZodOpenApiPathsObject } from 'zod-openapi';
import { UPLOAD_FORMAT_NAMES } from '../core/audio/formats.ts';
import {
  CreatedUploadSchema,
  CreateUploadRequestSchema,
  HealthSchema,
  ListPredictionsQuerySchema,
  PageQuerySchema,
  PredictionPageSchema,
  PredictionSchema,
  SpeakerErasedSchema,
  SpeakerIdSchema,
  TerminalPredictionStatusSchema,
} from './api-schemas.ts';
import { DEFAULT_MAX_UPLOAD_BYTES } from './config.ts';
import {
  errorResponse,
  FORBIDDEN,
  INVALID_SPEAKER_ID,
  jsonResponse,
  SPEAKERS_DISABLED,
  withCommonResponses,
} from './openapi-responses.ts';
import { ADMIN, ADMIN_FORBIDDEN, trainingPaths } from './openapi-training.ts';

const predictionPaths: ZodOpenApiPathsObject = {
  '/uploads': {
    post: {
      operationId: 'createUpload',
      summary: `Get a presigned upload for one audio file (${UPLOAD_FORMAT_NAMES}; default limit ${DEFAULT_MAX_UPLOAD_BYTES / 1024 / 1024} MB)`,
      requestBody: { required: true, content: { 'application/json': { schema: CreateUploadRequestSchema } } },
      responses: {
        '201': jsonResponse(
          'Upload with `upload.method`: PUT the raw bytes to `url` with `headers` (Content-Length must equal ' +
            'sizeBytes), or POST a multipart form with `fields` then the `file` part.',
          CreatedUploadSchema,
        ),
        '400': errorResponse(
          'Invalid body, unsupported type, empty or too large (INVALID_REQUEST, INVALID_JSON, ' +
            'UNSUPPORTED_FORMAT, EMPTY_AUDIO, TOO_LARGE, INVALID_CALLBACK_URL)',
        ),
        '403': FORBIDDEN,
      },
    },
  },
  '/predictions': {
    get: {
      operationId: 'listPredictions',
      summary: "Recent predictions, newest first; with speakerId, that speaker's under the caller's API key",
      requestParams: { query: ListPredictionsQuerySchema },
      responses: {
        '200': jsonResponse('A page of predictions', PredictionPageSchema),
        '400': errorResponse('Invalid limit or cursor (INVALID_REQUEST, INVALID_CURSOR)'),
        '403': FORBIDDEN,
      },
    },
  },
  '/predictions/{id}': {
    get: {
      operationId: 'getPrediction',
      summary: 'One prediction (poll until SUCCEEDED or FAILED, or ask for a callback)',
      requestParams: { path: z.object({ id: z.string() }) },
      responses: {
        '200': jsonResponse('The prediction', PredictionSchema),
        '403': FORBIDDEN,
        '404': errorResponse('No such prediction (NOT_FOUND)'),
      },
    },
  },
  '/speakers/{id}': {
    delete: {
      operationId: 'eraseSpeaker',
      summary:
        "Erase a speaker under the caller's API key: its statistics, its prediction records and their audio",
      description:
        "Deletes the speaker's statistics (aggregates only: count, mean and spread of a few per-clip feature " +
        'means; later clips of that speakerId start afresh) and up to 25 of its prediction records per call, ' +
        'each with its uploaded audio. `more: true`: records remain (more than one call deletes, or a clip ' +
        'is being processed and is left until it ends): call again until `more` is false. An upload of the ' +
        'speaker created before the call whose file is sent afterwards is not processed: the file is deleted. ' +
        'A call takes about two seconds (it waits for the speaker index). The speaker is scoped to the key, ' +
        'but an unfiltered GET /predictions lists the records of every key, speakerId included (users are ' +
        'not told apart). Not erased: ' +
        'completion events and callbacks already delivered, logs, point-in-time-recovery backups (35 days) ' +
        "and the bucket's noncurrent versions (raw audio 1 day, result files 7 days). See SECURITY.md.",
      requestParams: { path: z.object({ id: SpeakerIdSchema }) },
      responses: {
        '200': jsonResponse('Erased, or there was nothing to erase', SpeakerErasedSchema),
        '400': INVALID_SPEAKER_ID,
        '403': FORBIDDEN,
        '404': SPEAKERS_DISABLED,
      },
    },
  },
  '/drop-folder/speakers/{id}': {
    delete: {
      operationId: 'eraseDropFolderSpeaker',
      summary:
        'Erase a drop-folder speaker (incoming/<prefix>/<speakerId>/…): statistics, records, audio and result files',
      description:
        "As DELETE /speakers/{id}, under every speaker prefix of the drop folder: each record's object under " +
        'incoming/ and its result file under results/ go with it. Drop-folder speakers have a scope of their ' +
        'own, apart from every API key, so the operators who own the bucket erase them, with the admin credential. ' +
        'A clip of the speaker that came before the call but whose event is retried or replayed only afterwards ' +
        'is deleted when its event comes, not recorded.',
      security: ADMIN,
      requestParams: { path: z.object({ id: SpeakerIdSchema }) },
      responses: {
        '200': jsonResponse('Erased, or there was nothing to erase', SpeakerErasedSchema),
        '400': INVALID_SPEAKER_ID,
        '403': ADMIN_FORBIDDEN,
        '404': SPEAKERS_DISABLED,
      },
    },
  },
  '/drop-folder/speakers/{id}/predictions': {
    get: {
      operationId: 'listDropFolderSpeakerPredictions',
      summary:
        "A drop-folder speaker's prediction records under every speaker prefix, newest first (what its erase deletes)",
      description:
        'What the deployment holds about a drop-folder speaker (incoming/<prefix>/<speakerId>/…), for a ' +
        'data-subject access request: its records under every speaker prefix of the drop folder, merged ' +
        'newest first, in the pages and record shape of GET /predictions?speakerId=. A cursor pages only ' +
        "the listing that returned it (another listing's is 400 INVALID_CURSOR). Without speaker prefixes, " +
        'an empty page. Admin credential only: drop-folder speakers belong to no API key.',
      security: ADMIN,
      requestParams: { path: z.object({ id: SpeakerIdSchema }), query: PageQuerySchema },
      responses: {
        '200': jsonResponse("A page of the speaker's predictions", PredictionPageSchema),
        '400': errorResponse('Invalid speakerId, limit or cursor (INVALID_REQUEST, INVALID_CURSOR)'),
        '403': ADMIN_FORBIDDEN,
      },
    },
  },
  '/health': {
    get: {
      operationId: 'health',
      security: [],
      responses: { '200': jsonResponse('The service is up', HealthSchema) },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'openApi',
      security: [],
      responses: { '200': jsonResponse('This document', z.record(z.string(), z.unknown())) },
    },
  },
};

/**
 * The API contract, served at GET /openapi.json: generated from the zod schemas the handlers validate
 * and type with, so the two cannot drift (`test/openapi-contract.test.ts` validates it and regenerates
 * the typed client from it).
 */
export const openApiDocument = createDocument({
  openapi: '3.1.0',
  info: {
    title: 'SER API',
    version: '1.0.0',
    description:
      'Speech emotion recognition. Create an upload, send the audio to the presigned URL, then poll the ' +
      'prediction or receive it at a callback URL. The user routes need the `x-api-key` header; the admin ' +
      'routes (training jobs, models, drop-folder speakers) take the admin credential instead (the `admin` ' +
      'scheme); /health and /openapi.json need neither.',
  },
  // Relative to this document, as OpenAPI allows: on AWS it is served from the stage (…/v1/openapi.json),
  // so '/' would send generated clients to the host's root, outside the stage.
  servers: [{ url: '.', description: 'The API base URL: where this document is served from' }],
  security: [{ apiKey: [] }],
  paths: withCommonResponses({ ...predictionPaths, ...trainingPaths }),
  components: {
    // Named in the contract, though no field refers to it, so that the generated client reads it as values.
    schemas: { TerminalPredictionStatus: TerminalPredictionStatusSchema },
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      admin: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description:
          'The admin routes (training jobs, models, drop-folder speakers): AWS SigV4 in Authorization (IAM, the AdminPolicyArn output) on AWS, no API key; locally the admin key (SER_ADMIN_KEY), sent as x-api-key instead',
      },
    },
  },
});
