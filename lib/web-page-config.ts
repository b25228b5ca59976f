import { UPLOAD_FORMATS } from '../lambdas/core/audio/formats.ts';
import { DEFAULT_MAX_DURATION_SEC } from '../lambdas/core/audio/limits.ts';

/**
 * The page's config.json (written by the CDK deployment and served by the local stack): the API's URL, the
 * upload limit the API enforces, the longest audio it analyses (MAX_DURATION_SEC; the stack leaves the
 * inference function at the default) and the accepted formats.
 */
export const webPageConfig = (
  apiUrl: string,
  maxUploadBytes: number,
  maxDurationSec: number = DEFAULT_MAX_DURATION_SEC,
) => ({
  apiUrl,
  maxUploadBytes,
  maxDurationSec,
  formats: UPLOAD_FORMATS.map(({ name, extensions, contentTypes }) => ({ name, extensions, contentTypes })),
});
