import type * as z from 'zod';
import type { ZodOpenApiPathsObject, ZodOpenApiResponseObject } from 'zod-openapi';
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
export const INTERNAL_ERROR = errorResponse(
  'Something failed on our side (INTERNAL_ERROR); nothing about it is exposed: retry later',
  'InternalError',
);

/**
 * What any operation may answer besides its own responses: the stage's and the key's throttle (429) and
 * an unexpected failure (500). Added to every operation, so a new route cannot forget them.
 */
export function withCommonResponses(paths: ZodOpenApiPathsObject): ZodOpenApiPathsObject {
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item ?? {}).map(([method, operation]) => [
          method,
          {
            ...operation,
            responses: { '429': THROTTLED, '500': INTERNAL_ERROR, ...operation.responses },
          },
        ]),
      ),
    ]),
  );
}
