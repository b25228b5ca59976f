import type { S3Client } from '@aws-sdk/client-s3';

/**
 * The s3rver fork mis-canonicalises SDK v3's bucket-level requests (`GET /bucket/?list-type=2` fails
 * SigV4; see docs/dependencies.md): off AWS, send `/bucket` instead. Real S3 accepts both, so it is only added
 * when an endpoint is configured.
 */
export function fixBucketLevelPaths(s3: S3Client, s3Endpoint: string | undefined): S3Client {
  if (!s3Endpoint) return s3;
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: string };
      if (typeof request.path === 'string' && /^\/[^/]+\/$/.test(request.path)) {
        request.path = request.path.slice(0, -1);
      }
      return next(args);
    },
    { step: 'build', name: 'localBucketLevelPath' },
  );
  return s3;
}
