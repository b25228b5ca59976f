import { createHash } from 'node:crypto';
import * as z from 'zod';
import {
  isTerminalStatus,
  PredictionErrorSchema,
  PredictionSchema,
  ProbabilitiesSchema,
  TerminalPredictionStatusSchema,
} from './api-schemas.ts';
import type { CallbackTarget, Prediction } from './prediction-repository.ts';

/** EventBridge `source` of every event this product publishes. */
export const EVENT_SOURCE = 'ser';
export const DETAIL_TYPES = { SUCCEEDED: 'Prediction Succeeded', FAILED: 'Prediction Failed' } as const;
export type PredictionDetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/**
 * The `detail` of a terminal prediction's event, on EventBridge and in the body of a callback. No
 * segments (a 10-minute clip has hundreds; GET /predictions/{id} has them), so it stays far below
 * EventBridge's 256 KB entry limit.
 */
export const PredictionEventDetailSchema = z
  .object({
    /** The same for every publication of one result (a retried event): what a receiver deduplicates on. */
    eventId: z.string(),
    id: z.string(),
    status: TerminalPredictionStatusSchema,
    source: PredictionSchema.shape.source,
    fileName: z.string(),
    bucket: z.string(),
    key: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    emotion: z.string().optional(),
    confidence: z.number().optional(),
    lowConfidence: z.boolean().optional(),
    probabilities: ProbabilitiesSchema.optional(),
    durationSec: z.number().optional(),
    modelVersion: z.string().optional(),
    error: PredictionErrorSchema.optional(),
    // A receiver that routes by speaker needs them here, not from a poll.
    speakerId: PredictionSchema.shape.speakerId,
    adaptation: PredictionSchema.shape.adaptation,
    /** Present when the upload asked for a callback: the delivery rule matches on it. */
    callback: z.object({ url: z.string(), apiKeyId: z.string().optional() }).optional(),
  })
  .meta({ id: 'PredictionEventDetail' });

export type PredictionEventDetail = z.infer<typeof PredictionEventDetailSchema>;

export interface PredictionEvent {
  detailType: PredictionDetailType;
  detail: PredictionEventDetail;
}

/** Where terminal predictions are announced: EventBridge on AWS, an in-process bus locally. */
export interface PredictionEventPublisher {
  publish(event: PredictionEvent): Promise<void>;
}

export interface EventContext {
  bucket: string;
  key: string;
  /** Which bytes the result is about: with the status, it makes the event id. */
  objectVersion: string;
  callback?: CallbackTarget | undefined;
}

/** The event for a prediction that just became SUCCEEDED or FAILED. */
export function predictionEvent(prediction: Prediction, context: EventContext): PredictionEvent {
  if (!isTerminalStatus(prediction.status)) {
    throw new Error(`Prediction ${prediction.id} is ${prediction.status}, not terminal`);
  }
  const { id, status, source, fileName, createdAt, updatedAt } = prediction;
  const { emotion, confidence, lowConfidence, probabilities, durationSec, modelVersion, error } = prediction;
  const { speakerId, adaptation } = prediction;
  const eventId = createHash('sha256')
    .update(`${id}\n${context.objectVersion}\n${status}`)
    .digest('base64url')
    .slice(0, 32);
  const detail: PredictionEventDetail = {
    eventId,
    id,
    status,
    source,
    fileName,
    bucket: context.bucket,
    key: context.key,
    createdAt,
    updatedAt,
    ...defined({ emotion, confidence, lowConfidence, probabilities, durationSec, modelVersion, error }),
    ...defined({ speakerId, adaptation }),
    ...(context.callback ? { callback: defined(context.callback) as { url: string } } : {}),
  };
  return { detailType: DETAIL_TYPES[status], detail };
}

/** Drops undefined fields, so the event's JSON has only what is known. */
function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
