import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/**
 * Keys one look at a dataset prefix reads: a few, so that folder markers (keys ending in `/`, which the
 * S3 console's "Create folder" writes) cannot hide a file, in one request.
 */
const PEEK_KEYS = 10;

/** Where a dataset prefix lives: the bucket, and the S3 endpoint when it is not AWS's (the local stack). */
export interface DatasetLocation {
  readonly bucket: string;
  readonly endpoint?: string | undefined;
}

/** The bucket's dataset prefixes, as far as the API needs them before it starts a training machine. */
export interface DatasetPrefixes extends DatasetLocation {
  /** Whether anything but folder markers is under `prefix` (unsure, e.g. only markers in the first page: true). */
  hasObjects(prefix: string): Promise<boolean>;
}

/** One `ListObjectsV2` (the API role may list `datasets/*` only). */
export function createS3DatasetPrefixes(
  s3: S3Client,
  bucket: string,
  endpoint?: string | undefined,
): DatasetPrefixes {
  return {
    bucket,
    endpoint,
    async hasObjects(prefix) {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: PEEK_KEYS }),
      );
      const files = (page.Contents ?? []).filter((object) => object.Key && !object.Key.endsWith('/'));
      // Past the first page the job decides: it reads the whole listing anyway.
      return files.length > 0 || page.IsTruncated === true;
    },
  };
}

/**
 * Why a job on an empty prefix cannot run, and what to do: the API's refusal and the job's own failure
 * (the prefix emptied after the API looked) say the same. With a local endpoint the example names it: as
 * written, `aws s3 sync` would go to a real AWS bucket of the same name. `hint`: the launcher's other way
 * to fill the prefix (the local stack's dataset root). The local credentials are only
 * pointed to, not echoed: their home is the local stack, and a message never carries the process's keys.
 */
export function emptyDatasetMessage(where: DatasetLocation, prefix: string, hint?: string): string {
  const location = `s3://${where.bucket}/${prefix}`;
  const sync = where.endpoint
    ? `aws --endpoint-url ${where.endpoint} s3 sync ./my-clips ${location} with the local S3's access key ` +
      `and secret (the npm start banner prints them)`
    : `aws s3 sync ./my-clips ${location}`;
  return (
    `The dataset prefix ${location} is empty: upload clips there first ` +
    `(TESS, RAVDESS, EMO-DB or CREMA-D file names, or folders with a labels.csv), ` +
    `e.g. ${sync}${hint ? `; ${hint}` : ''} (docs/training-jobs.md)`
  );
}
