import type * as z from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { ErrorBodySchema } from './api-schemas.ts';

/** A JSON response of one schema. */
export const jsonResponse = (description: string, schema: z.ZodType): ZodOpenApiResponseObject => ({
  description,
  content: { 'application/json': { schema } },
});

/** An error response: `{ error: { code, message } }`, the codes named in the description. */
export const errorResponse = (description: string): ZodOpenApiResponseObject =>
  jsonResponse(description, ErrorBodySchema);

export const FORBIDDEN = errorResponse('Missing or invalid API key (FORBIDDEN)');
export const THROTTLED = errorResponse('Throttled or over quota (THROTTLED, QUOTA_EXCEEDED)');
