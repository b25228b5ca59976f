import { UPLOAD_FORMATS } from '../lambdas/core/audio/formats.ts';

/**
 * The page's config.json (written by the CDK deployment and served by the local stack): the API's URL, the
 * upload limit the API enforces and the accepted formats.
 */
export const webPageConfig = (apiUrl: string, maxUploadBytes: number) => ({
  apiUrl,
  maxUploadBytes,
  formats: UPLOAD_FORMATS.map(({ name, extensions, contentTypes }) => ({ name, extensions, contentTypes })),
});
