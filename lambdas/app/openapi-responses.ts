import type * as z from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { ErrorBodySchema } from './api-schemas.ts';

/** A JSON response of one schema. */
export const jsonResponse = (description: string, schema: z.ZodType): ZodOpenApiResponseObject => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * An error response: `{ error: { code, message } }`, the codes named in the description. One that several
 * operations share takes an `id` and is written once, under components.responses.
 */
export const errorResponse = (description: string, id?: string): ZodOpenApiResponseObject => ({
  ...jsonResponse(description, ErrorBodySchema),
  ...(id ? { id } : {}),
});

export const FORBIDDEN = errorResponse('Missing or invalid API key (FORBIDDEN)', 'Forbidden');
export const THROTTLED = errorResponse('Throttled or over quota (THROTTLED, QUOTA_EXCEEDED)', 'Throttled');
export const INVALID_SPEAKER_ID = errorResponse('Invalid speakerId (INVALID_REQUEST)', 'InvalidSpeakerId');
export const SPEAKERS_DISABLED = errorResponse(
  'Speaker statistics are not enabled on this deployment (NOT_FOUND)',
  'SpeakersDisabled',
);
