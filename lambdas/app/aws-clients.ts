import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_REQUEST_TIMEOUT_MS, timeouts } from './aws-timeouts.ts';

export interface ClientOptions {
  region: string;
  s3Endpoint?: string | undefined;
  dynamoDbEndpoint?: string | undefined;
  /** Default: the SDK's provider chain (the function's role on AWS, AWS_* variables locally). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Longest wait for a response's headers. The SDK waits forever by default: a DynamoDB that hangs
   * would hold the claim until the Lambda timeout instead of failing fast into a retry. @default 10 000
   */
  requestTimeoutMs?: number;
}

/**
 * Checksums only when S3 requires them: SDK v3's default flexible checksums break streamed uploads on
 * local S3 servers and would leak checksum parameters into presigned URLs. Path style off AWS, because
 * `<bucket>.127.0.0.1` does not resolve.
 */
export function createS3Client({
  region,
  s3Endpoint,
  credentials,
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
}: ClientOptions): S3Client {
  return new S3Client({
    region,
    requestHandler: timeouts(requestTimeoutMs),
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
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
}: ClientOptions): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region,
    requestHandler: timeouts(requestTimeoutMs),
    ...(credentials ? { credentials: { ...credentials } } : {}),
    ...(dynamoDbEndpoint ? { endpoint: dynamoDbEndpoint } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function createEventBridgeClient({
  region,
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
}: ClientOptions): EventBridgeClient {
  return new EventBridgeClient({ region, requestHandler: timeouts(requestTimeoutMs) });
}
