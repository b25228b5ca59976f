import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ClientOptions {
  region: string;
  s3Endpoint?: string | undefined;
  dynamoDbEndpoint?: string | undefined;
  /** Default: the SDK's provider chain (the function's role on AWS, AWS_* variables locally). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Checksums only when S3 requires them: SDK v3's default flexible checksums break streamed uploads on
 * local S3 servers and would leak checksum parameters into presigned URLs. Path style off AWS, because
 * `<bucket>.127.0.0.1` does not resolve.
 */
export function createS3Client({ region, s3Endpoint, credentials }: ClientOptions): S3Client {
  return new S3Client({
    region,
    ...(credentials ? { credentials: { ...credentials } } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}),
  });
}

export function createDocumentClient({
  region,
  dynamoDbEndpoint,
  credentials,
}: ClientOptions): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region,
    ...(credentials ? { credentials: { ...credentials } } : {}),
    ...(dynamoDbEndpoint ? { endpoint: dynamoDbEndpoint } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
