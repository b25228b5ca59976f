import type { ErrorCode } from '../core/errors.ts';

/**
 * Codes a record can end FAILED with that are about the object or its processing, not its audio (the
 * audio's own codes are the core's `ERROR_CODES`):
 * - PROCESSING_FAILED: every attempt failed on an infrastructure fault; the event is in the dead-letter
 *   queue and `ser replay` may still finish the record (also how reads show a claim released after a
 *   failure that no retry or dead letter ever finished, prediction-repository.ts);
 * - OBJECT_REPLACED: other bytes replaced the object before it was read (their own event finishes the
 *   key's record; only a record whose event was dead-lettered ends so);
 * - OBJECT_DELETED: the object was deleted before it could be read;
 * - KEY_TOO_LONG / INVALID_KEY: a drop-folder key that cannot have a result file (see object-keys.ts);
 * - UPLOAD_EXPIRED: no file arrived before the upload URL expired (plus a grace): an API upload's end
 *   when its client never sent the file, as reads show it (prediction-repository.ts).
 */
export const PROCESSING_ERROR_CODES = [
  'PROCESSING_FAILED',
  'OBJECT_REPLACED',
  'OBJECT_DELETED',
  'KEY_TOO_LONG',
  'INVALID_KEY',
  'UPLOAD_EXPIRED',
] as const;

export type ProcessingErrorCode = (typeof PROCESSING_ERROR_CODES)[number];

/** The error a FAILED record carries: the audio's code or one of the above. */
export interface RecordError {
  code: ErrorCode | ProcessingErrorCode;
  message: string;
}
