import { GetObjectCommand, HeadObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ModelError } from '../core/errors.ts';
import { parseModelMetadata } from '../core/model/metadata.ts';
import { parseS3Location } from './model-registry.ts';

/** Registered packages in the bucket, as far as the API needs them before it activates one. */
export interface ModelPackages {
  /**
   * What keeps the package at a registry `location` from loading, one phrase each naming its object
   * (`s3://…/model.onnx is missing`, or `… is missing or not readable by the API (403)`); empty when the
   * objects prediction reads are there.
   */
  problems(location: string): Promise<string[]>;
}

/**
 * Why an object could not be read, after its URL; `undefined` for a failure that may pass (S3 throttling or
 * unreachable), which is thrown on. 404: it is not there. 403: the API may read `models/*` but not list
 * it, and without a listing grant S3 answers a missing object with 403, not 404; but 403 is also an object
 * outside the API's grant or a changed policy, so it is not called missing alone. The inference function
 * has the same read grant: what the API cannot read, it cannot load either.
 */
function unreadable(error: unknown): string | undefined {
  if (!(error instanceof S3ServiceException)) return undefined;
  const status = error.$metadata.httpStatusCode;
  if (status === 404) return 'is missing';
  if (status === 403) return 'is missing or not readable by the API (403)';
  return undefined;
}

/** The object, or what keeps it from being read (`s3://… is missing`). */
async function readOrProblem<T>(
  request: Promise<T>,
  url: string,
): Promise<{ object: T } | { problem: string }> {
  try {
    return { object: await request };
  } catch (error) {
    const why = unreadable(error);
    if (why) return { problem: `${url} ${why}` };
    throw error;
  }
}

/**
 * Reads the package's metadata.json (it names the ONNX file) and HEADs that ONNX: the objects
 * `active-model.ts` loads. With metadata.json gone the ONNX file's name is unknown, so only it is named.
 */
export function createS3ModelPackages(s3: S3Client): ModelPackages {
  return {
    async problems(location) {
      const at = parseS3Location(location);
      if (!at) return [`${location} is not an s3:// location`];
      const url = (key: string) => `s3://${at.bucket}/${key}`;
      const metadataKey = `${at.prefix}metadata.json`;
      const metadata = await readOrProblem(
        s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: metadataKey })),
        url(metadataKey),
      );
      if ('problem' in metadata) return [metadata.problem];
      let onnxKey: string;
      try {
        const body = await metadata.object.Body!.transformToString();
        onnxKey = `${at.prefix}${parseModelMetadata(body, url(metadataKey)).onnxFile}`;
      } catch (error) {
        if (error instanceof ModelError) return [error.message];
        throw error;
      }
      const onnx = await readOrProblem(
        s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: onnxKey })),
        url(onnxKey),
      );
      return 'problem' in onnx ? [onnx.problem] : [];
    },
  };
}
