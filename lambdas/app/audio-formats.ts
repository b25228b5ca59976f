import {
  UPLOAD_CONTENT_TYPES,
  UPLOAD_EXTENSIONS,
  type UploadFormat,
  uploadFormatOfFileName,
} from '../core/audio/formats.ts';

/** `POST /uploads` checks against the core's one list of accepted formats (`lambdas/core/audio/formats.ts`). */
export const SUPPORTED_EXTENSIONS = UPLOAD_EXTENSIONS;
export const SUPPORTED_CONTENT_TYPES = UPLOAD_CONTENT_TYPES;

export const formatOfFileName = (fileName: string): UploadFormat | undefined =>
  uploadFormatOfFileName(fileName);

/** `audio/wav; codecs=1` → `audio/wav`; `undefined` when the type is not one the core decodes. */
export function normalizeContentType(contentType: string): string | undefined {
  const bare = contentType.split(';')[0]!.trim().toLowerCase();
  return SUPPORTED_CONTENT_TYPES.includes(bare) ? bare : undefined;
}
