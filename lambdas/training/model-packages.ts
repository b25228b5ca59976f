import { GetObjectCommand, HeadObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ModelError } from '../core/errors.ts';
import { parseModelMetadata } from '../core/model/metadata.ts';
import { parseS3Location } from './model-registry.ts';

/** Registered packages in the bucket, as far as the API needs them before it activates one. */
export interface ModelPackages {
  /**
   * What keeps the package at a registry `location` from loading, one phrase each naming its object
   * (`s3://…/model.onnx is missing`); empty when the objects prediction reads are there.
   */
  problems(location: string): Promise<string[]>;
}

/**
 * An object that is not there. The API may read `models/*` but not list it, and without a listing grant
 * S3 answers a missing object with 403, not 404; with the read granted, 403 is what the inference function
 * (granted the same) would get too.
 */
const isMissing = (error: unknown): boolean =>
  error instanceof S3ServiceException && [403, 404].includes(error.$metadata.httpStatusCode ?? 0);

/** `undefined` when the object is missing. */
async function orMissing<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (isMissing(error)) return undefined;
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
      const metadata = await orMissing(
        s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: metadataKey })),
      );
      if (!metadata) return [`${url(metadataKey)} is missing`];
      let onnxKey: string;
      try {
        const { onnxFile } = parseModelMetadata(await metadata.Body!.transformToString(), url(metadataKey));
        onnxKey = `${at.prefix}${onnxFile}`;
      } catch (error) {
        if (error instanceof ModelError) return [error.message];
        throw error;
      }
      const onnx = await orMissing(s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: onnxKey })));
      return onnx ? [] : [`${url(onnxKey)} is missing`];
    },
  };
}
