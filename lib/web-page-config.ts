import { UPLOAD_FORMATS } from '../lambdas/core/audio/formats.ts';

/** The page's config.json (written by the CDK deployment and served by the local stack): the API's URL and the accepted formats. */
export const webPageConfig = (apiUrl: string) => ({
  apiUrl,
  formats: UPLOAD_FORMATS.map(({ name, extensions, contentTypes }) => ({ name, extensions, contentTypes })),
});
