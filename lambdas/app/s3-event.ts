import * as z from 'zod';

/** The part of an S3 event-notification record the processor relies on; anything else is ignored. */
const S3EventRecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  eventTime: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

/** `Records` is absent from the `s3:TestEvent` S3 sends when a notification is configured. */
const S3EventSchema = z.object({ Records: z.array(S3EventRecordSchema).default([]) });

export interface S3ObjectRef {
  bucket: string;
  /** Decoded: S3 URL-encodes keys in events (spaces as `+`). */
  key: string;
  size?: number | undefined;
  eTag?: string | undefined;
  versionId?: string | undefined;
  /** Orders the events of one key; distinguishes two uploads of the same bytes on an unversioned bucket. */
  sequencer?: string | undefined;
  /** When S3 created the object (ISO time): an API upload's file counts if it came by its deadline. */
  eventTime?: string | undefined;
}

export const decodeS3Key = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/** The created objects an S3 event is about; throws on a payload that is not an S3 event at all. */
export function parseS3Event(event: unknown): S3ObjectRef[] {
  const { Records } = S3EventSchema.parse(event);
  return Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map(
    ({ s3, eventTime }) => ({
      bucket: s3.bucket.name,
      key: decodeS3Key(s3.object.key),
      size: s3.object.size,
      eTag: s3.object.eTag,
      versionId: s3.object.versionId,
      sequencer: s3.object.sequencer,
      eventTime,
    }),
  );
}
