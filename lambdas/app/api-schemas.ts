import * as z from 'zod';
import { UPLOAD_CONTENT_TYPES, UPLOAD_EXTENSIONS } from '../core/audio/formats.ts';
import { ERROR_CODES } from '../core/errors.ts';
import { PREDICTION_ID } from './object-keys.ts';
import { PROCESSING_ERROR_CODES } from './processing-errors.ts';

/**
 * The API's wire shapes, written once: the handlers' types are inferred from them and the OpenAPI
 * document (openapi.ts) is generated from them, so a field added here appears in both and a field the
 * code returns but this file lacks does not compile. `.meta({ id })` names an OpenAPI component.
 */

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ examples: ['UNSUPPORTED_FORMAT'] }),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error' });

export const PredictionStatusSchema = z.enum(['PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED']);
/** The statuses a prediction ends in: what a poll waits for, what an event and a callback announce. */
export const TerminalPredictionStatusSchema = PredictionStatusSchema.extract(['SUCCEEDED', 'FAILED']).meta({
  description:
    'The statuses a prediction ends in: a prediction in one changes no more, so a poll stops there',
});
export const TERMINAL_PREDICTION_STATUSES = TerminalPredictionStatusSchema.options;
export const isTerminalStatus = (
  status: string | undefined,
): status is z.infer<typeof TerminalPredictionStatusSchema> =>
  (TERMINAL_PREDICTION_STATUSES as readonly (string | undefined)[]).includes(status);
export const PredictionSourceSchema = z.enum(['api', 'drop-folder']);

export const ProbabilitiesSchema = z
  .record(z.string(), z.number().min(0).max(1))
  .meta({ id: 'Probabilities', description: 'Per emotion, summing to 1' });

export const SegmentSchema = z
  .object({
    startSec: z.number(),
    endSec: z.number(),
    emotion: z.string(),
    confidence: z.number(),
    lowConfidence: z
      .boolean()
      .optional()
      .meta({ description: "As the prediction's lowConfidence, for this window" }),
    probabilities: ProbabilitiesSchema,
  })
  .meta({ id: 'Segment' });

/** Why a prediction ended FAILED: the core's typed input errors. */
export const PredictionErrorSchema = z.object({
  code: z.enum([...ERROR_CODES, ...PROCESSING_ERROR_CODES]),
  message: z.string(),
});

/** The characters of a speakerId, in words: its error message, its description and the drop folder's warning. */
export const SPEAKER_ID_CHARACTERS =
  'printable ASCII characters except "/", no space at either end, not "." or ".."';

/** Printable ASCII but space and "/" (an id's first and last character), the same but ".", and with space (inside). */
const EDGE = '!-.0-~';
const EDGE_NOT_DOT = '!-\\-0-~';
const INNER = ' -.0-~';

/**
 * A speaker (or room, channel) id: opaque to us, but bounded and plain — printable ASCII without "/" (it
 * is a drop-folder path segment), with no space at either end. Plain ASCII so that an id cannot look like
 * another (no invisible, bidirectional or look-alike characters) and so that the pattern means the same
 * in every client's regex engine (no Unicode property escapes, no lookahead in the OpenAPI document).
 * Not "." or "..": as the last segment of DELETE /speakers/{id}, URL parsers, HTTP clients and gateways
 * resolve them (even written %2E%2E) to another path, so such a speaker could be stored but never erased.
 * One pattern: 3 characters or more, else 1–2 that are not all dots.
 */
export const SpeakerIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(
    new RegExp(`^(?:[${EDGE}][${INNER}]+[${EDGE}]|[${EDGE_NOT_DOT}][${EDGE}]?|\\.[${EDGE_NOT_DOT}])$`),
    SPEAKER_ID_CHARACTERS,
  )
  .meta({
    id: 'SpeakerId',
    examples: ['agent-17'],
    description: `Opaque: 1–128 ${SPEAKER_ID_CHARACTERS}`,
  });

/** Present when a prediction was adapted to its speaker's earlier clips. */
export const AdaptationSchema = z.object({
  clips: z.number().int().min(1).meta({ description: 'Earlier clips of the speaker it was judged against' }),
});

/** What GET /predictions/{id} returns and what the drop folder writes to `results/…json`. */
export const PredictionSchema = z
  .object({
    id: z.string(),
    status: PredictionStatusSchema,
    source: PredictionSourceSchema,
    fileName: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    emotion: z.string().optional(),
    confidence: z.number().optional().meta({
      description:
        "Probability of `emotion`, calibrated on voices the model never heard (the model package's temperature)",
    }),
    lowConfidence: z.boolean().optional().meta({
      description:
        "true when the calibrated confidence is below the model package's threshold (metadata calibration.lowConfidenceBelow): more likely wrong than right",
    }),
    probabilities: ProbabilitiesSchema.optional(),
    segments: z
      .array(SegmentSchema)
      .optional()
      .meta({
        description:
          'Every window the model scored, in time order. An utterance (speech between pauses of 0.6 s or more) ' +
          "that fits the model's window (3 s for 1.6.0) is one segment; a longer one gets a window every half " +
          'window, the last aligned to its end, so its segments overlap: do not add their durations up',
      }),
    durationSec: z.number().optional(),
    modelVersion: z.string().optional(),
    error: PredictionErrorSchema.optional(),
    speakerId: z.string().optional().meta({ description: 'The speaker context the clip was sent with' }),
    adaptation: AdaptationSchema.optional().meta({
      description: "Present when the prediction was adapted to the speaker's earlier clips",
    }),
  })
  .meta({ id: 'Prediction' });

export const PredictionPageSchema = z
  .object({
    items: z.array(PredictionSchema),
    nextCursor: z.string().optional().meta({ description: 'Pass back as `cursor` for the next page' }),
  })
  .meta({ id: 'PredictionPage' });

/** A UUID (API upload) or 32 hex digits (drop folder); never an internal item's key (object-keys.ts). */
export const PredictionIdSchema = z.string().regex(PREDICTION_ID);

/** A page of a listing: its size and where the previous page ended. */
export const PageQuerySchema = z.object({
  limit: z.coerce.number('an integer from 1 to 100').int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(2048).optional().meta({ description: '`nextCursor` of the previous page' }),
});

export const ListPredictionsQuerySchema = PageQuerySchema.extend({
  speakerId: SpeakerIdSchema.optional().meta({
    description:
      "Only this speaker's records under the caller's API key (what DELETE /speakers/{id} erases), newest first",
  }),
});

/** Strict: an unknown field is a 400, so a misspelt `sizeBytes` cannot silently drop the size check. */
export const CreateUploadRequestSchema = z
  .strictObject({
    fileName: z
      .string()
      .trim()
      .min(1)
      .max(255)
      .meta({
        examples: ['clip.wav'],
        description: `Ends in one of ${UPLOAD_EXTENSIONS.map((e) => `.${e}`).join(', ')} (any case); else 400 UNSUPPORTED_FORMAT`,
      }),
    contentType: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({
        examples: ['audio/wav', 'audio/webm;codecs=opus'],
        description: `One of ${UPLOAD_CONTENT_TYPES.join(', ')}; parameters (\`;codecs=opus\`) are dropped`,
      }),
    sizeBytes: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({
        description:
          'When given, the upload is a PUT signed for exactly this Content-Length. ' +
          '0 is refused with 400 EMPTY_AUDIO and more than the upload limit with 400 TOO_LARGE',
      }),
    callbackUrl: z
      .url()
      .max(2048)
      .optional()
      .meta({
        description:
          'Where the terminal result is POSTed, signed (see the README, "Callbacks"). https to a public host ' +
          '(an IP address must not be private, loopback or link-local); the local stack also accepts http ' +
          'to this machine (127.0.0.1, ::1, localhost).',
      }),
    speakerId: SpeakerIdSchema.optional().meta({
      description:
        "A speaker (or room) context, scoped to the API key: once the model's minimum of earlier clips of " +
        'this speaker is known, the prediction is judged against them (`adaptation` says so). ' +
        'Erase with DELETE /speakers/{id}.',
    }),
  })
  .meta({ id: 'CreateUploadRequest', description: 'An optional field sent as null counts as absent' });

export const UploadInstructionsSchema = z.object({
  method: z.enum(['PUT', 'POST']),
  url: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
  fields: z.record(z.string(), z.string()).optional(),
});

export const CreatedUploadSchema = z
  .object({
    id: z.string(),
    upload: UploadInstructionsSchema,
    expiresAt: z.iso.datetime(),
    predictionUrl: z.string().meta({
      examples: ['/predictions/0b6c5a1e-…'],
      description:
        'The route to poll, relative to the API base URL (append it to the base without its trailing ' +
        'slash; on AWS the base ends in the stage, /v1)',
    }),
  })
  .meta({ id: 'CreatedUpload' });

export const SpeakerErasedSchema = z
  .object({
    speakerId: z.string(),
    erased: z.boolean().meta({ description: 'false: there were no statistics to erase' }),
    recordsDeleted: z.number().int().min(0).meta({
      description:
        "Prediction records of the speaker deleted by this call, each with its objects (the uploaded audio; a drop-folder object's audio and result file)",
    }),
    more: z.boolean().meta({
      description:
        'true: records of the speaker remain (more than one call deletes, or some are being processed): call again until false',
    }),
    speakerPrefixes: z.array(z.string()).optional().meta({
      description:
        'DELETE /drop-folder/speakers/{id} only: the drop-folder speaker prefixes the call covered (DROP_FOLDER_SPEAKER_PREFIXES); empty: none is configured, so no drop-folder object has a speaker and nothing was looked for',
    }),
  })
  .meta({ id: 'SpeakerErased' });

export const HealthSchema = z
  .object({ status: z.literal('ok'), modelVersion: z.string() })
  .meta({ id: 'Health' });

export type Prediction = z.infer<typeof PredictionSchema>;
export type PredictionStatus = z.infer<typeof PredictionStatusSchema>;
export type PredictionSource = z.infer<typeof PredictionSourceSchema>;
export type PredictionPage = z.infer<typeof PredictionPageSchema>;
export type CreateUploadRequest = z.infer<typeof CreateUploadRequestSchema>;
export type UploadInstructions = z.infer<typeof UploadInstructionsSchema>;
export type CreatedUpload = z.infer<typeof CreatedUploadSchema>;
