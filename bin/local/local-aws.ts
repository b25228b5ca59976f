import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient, createS3Client } from '../../lambdas/app/aws-clients.ts';
import {
  type BundledModelPublished,
  publishBundledModel,
  readPackageFolder,
} from '../../lambdas/training/bundled-model.ts';
import { fixBucketLevelPaths } from '../../lambdas/training/local-s3-listing.ts';
import { ModelRegistry } from '../../lambdas/training/model-registry.ts';
import { localS3Access } from './s3-access.ts';
import { S3rver } from './s3rver.ts';
import { ensureActiveTable, restoreInterruptedUpgrade, upgradePredictionsTable } from './table-upgrade.ts';

/** s3rver's built-in account: the only credentials it accepts. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/** An S3 event-notification payload, as s3rver emits it (keys not yet URL-encoded). */
export interface S3rverEvent {
  Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[];
}

export interface LocalS3 {
  endpoint: string;
  server: S3rver;
  close(): Promise<void>;
}

export interface LocalS3Options {
  directory: string;
  bucket: string;
  host?: string;
  port?: number;
  /** Origins allowed to PUT/POST from a browser (the web page); other origins are refused. */
  corsOrigins?: string[];
}

function corsXml(origins: string[]): string {
  const allowed = origins.map((o) => `<AllowedOrigin>${o}</AllowedOrigin>`).join('');
  return `<CORSConfiguration><CORSRule>${allowed}<AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  const closed = once(server, 'close');
  server.close();
  // SDK clients keep connections alive; close() alone would wait for them.
  server.closeAllConnections();
  await closed;
}

/**
 * s3rver (the @20minutes fork, which verifies SigV4) on 127.0.0.1 with the bucket made up front
 * (its bucket-level PUT from SDK v3 is mis-signed, see docs/dependencies.md). Anonymous requests and POST
 * forms without a valid policy are refused, as by a private bucket in AWS (`localS3Access`); s3rver itself
 * would let them through.
 */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const host = options.host ?? '127.0.0.1';
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    vhostBuckets: false,
    configureBuckets: [
      {
        name: options.bucket,
        ...(options.corsOrigins?.length ? { configs: [corsXml(options.corsOrigins)] } : {}),
      },
    ],
  });
  server.middleware.unshift(
    localS3Access({ credentials: LOCAL_S3_CREDENTIALS, allowedOrigins: options.corsOrigins ?? [] }),
  );
  const address = await server.run();
  return {
    endpoint: `http://${host}:${address.port}`,
    server,
    close: () => closeServer(server.httpServer),
  };
}

export interface LocalDynamoDb {
  endpoint: string;
  close(): Promise<void>;
}

/** dynalite on 127.0.0.1, on disk when `directory` is given (a restart keeps the history). */
export async function startLocalDynamoDb(options: {
  directory?: string;
  host?: string;
  port?: number;
}): Promise<LocalDynamoDb> {
  const host = options.host ?? '127.0.0.1';
  const server = dynalite({
    ...(options.directory ? { path: join(options.directory) } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://${host}:${port}`, close: () => closeServer(server) };
}

/**
 * Creates the predictions table from the definition the CDK stack uses; an existing table is kept (made
 * again when it lacks an index, its items copied through `dumpFile`). When `dumpFile` is there, an earlier
 * start crashed while doing so: the table is restored from it first.
 */
export async function ensurePredictionsTable(
  endpoint: string,
  tableName: string,
  dumpFile: string,
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_S3_CREDENTIALS },
  });
  try {
    await restoreInterruptedUpgrade(client, tableName, dumpFile);
    await ensureActiveTable(client, tableName);
    await upgradePredictionsTable(client, tableName, dumpFile);
  } finally {
    client.destroy();
  }
}

/** The bundled version a start recorded in `file`; undefined before the first start that recorded one. */
async function readPreviousVersion(file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return text ? (JSON.parse(text) as { version: string }).version : undefined;
}

/**
 * The local counterpart of the stack's deploy-time registration: the bundled package stored in the local
 * bucket and registered there, by the same code (a version registered with another sha256 refuses).
 * `previousFile` stands in for CloudFormation's OldResourceProperties: it names the bundled version of the
 * last start that registered one, and is written only once this one has, so a start that failed is
 * retried against the same previous version, as a deployment's retry is. Without one (tests), every
 * registration is a first deployment.
 */
export async function registerBundledModel(options: {
  dynamoDbEndpoint: string;
  s3Endpoint: string;
  bucket: string;
  tableName: string;
  modelDir: string;
  previousFile?: string;
}): Promise<BundledModelPublished> {
  const clients = {
    region: LOCAL_REGION,
    dynamoDbEndpoint: options.dynamoDbEndpoint,
    s3Endpoint: options.s3Endpoint,
    credentials: { ...LOCAL_S3_CREDENTIALS },
  };
  const documents = createDocumentClient(clients);
  const s3 = fixBucketLevelPaths(createS3Client(clients), options.s3Endpoint);
  try {
    const registry = new ModelRegistry(documents, { tableName: options.tableName });
    const published = await publishBundledModel(
      { registry, s3, bucket: options.bucket },
      await readPackageFolder(options.modelDir),
      options.previousFile ? await readPreviousVersion(options.previousFile) : undefined,
    );
    if (options.previousFile)
      await writeFile(options.previousFile, `${JSON.stringify({ version: published.version })}\n`);
    return published;
  } finally {
    documents.destroy();
    s3.destroy();
  }
}
