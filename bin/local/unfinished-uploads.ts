import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createS3Client } from '../../lambdas/app/aws-clients.ts';
import { loadConfig } from '../../lambdas/app/config.ts';
import { classifyKey, TRIGGER_PREFIXES } from '../../lambdas/app/object-keys.ts';
import { PredictionRepository } from '../../lambdas/app/prediction-repository.ts';
import { fixBucketLevelPaths } from '../../lambdas/training/local-s3-listing.ts';
import type { S3rverEvent } from './local-aws.ts';
import { toNotification } from './s3-event-bridge.ts';

/** A stored object under uploads/ or incoming/, as the listing gives it. */
interface StoredObject {
  key: string;
  eTag: string;
  size: number;
  lastModified: string;
}

/** A prediction record that names an object: what reconciliation reads of it. */
interface ObjectRecord {
  id: string;
  status: string;
  key: string;
  objectVersion?: string;
  updatedAt: string;
}

const UNFINISHED = new Set(['PENDING', 'PROCESSING']);
const plain = (eTag: string | undefined) => (eTag ?? '').replaceAll('"', '');

/** `objectVersion` is the ETag, or the ETag and the event's sequencer (`objectVersionOf`; s3rver has no versionId). */
const versionParts = (objectVersion: string | undefined) => {
  const [eTag = '', sequencer] = (objectVersion ?? '').split('@');
  return { eTag, sequencer };
};

async function listObjects(s3: S3Client, bucket: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  for (const prefix of TRIGGER_PREFIXES) {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue; // a folder marker, not a file
        const lastModified = (o.LastModified ?? new Date()).toISOString();
        objects.push({ key: o.Key, eTag: plain(o.ETag), size: o.Size ?? 0, lastModified });
      }
    }
  }
  return objects;
}

/** Every prediction record naming an object under uploads/ or incoming/ (one paged Scan of the local table). */
async function listRecords(doc: DynamoDBDocumentClient, tableName: string): Promise<ObjectRecord[]> {
  const records: ObjectRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: 'id, #status, #key, objectVersion, updatedAt',
        FilterExpression: 'begins_with(#key, :uploads) OR begins_with(#key, :incoming)',
        ExpressionAttributeNames: { '#status': 'status', '#key': 'key' },
        ExpressionAttributeValues: { ':uploads': TRIGGER_PREFIXES[0], ':incoming': TRIGGER_PREFIXES[1] },
        ExclusiveStartKey: start,
      }),
    );
    records.push(...((page.Items ?? []) as ObjectRecord[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return records;
}

/**
 * What the last stack left undone with an object: nothing (its record is finished), or its event again,
 * with the sequencer of the record it claimed (the drop folder's record id depends on it), if any.
 */
function unfinishedWork(object: StoredObject, records: ObjectRecord[]) {
  const origin = classifyKey(object.key);
  if (!origin) return undefined;
  const ofKey = records.filter((r) => r.key === object.key);
  const mine =
    origin.source === 'api'
      ? ofKey.filter((r) => r.id === origin.id)
      : ofKey.filter((r) => versionParts(r.objectVersion).eTag === object.eTag);
  // An upload whose record is gone (erased, expired) is not brought back; a finished record is done.
  if (origin.source === 'api' && mine.length === 0) return undefined;
  const open = mine.find((r) => UNFINISHED.has(r.status));
  if (mine.length > 0 && !open) return undefined;
  return { record: open, sequencer: versionParts(open?.objectVersion).sequencer };
}

/** The ObjectCreated event s3rver sends for `object`, through the bridge's conversion to S3's notification. */
function eventFor(bucket: string, object: StoredObject, sequencer: string | undefined) {
  const record = {
    eventVersion: '2.0',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: object.lastModified,
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: bucket }, object: { key: object.key, size: object.size, eTag: object.eTag } },
  };
  const notification = toNotification({ Records: [record] });
  if (!notification) return undefined;
  // The record it claimed is the one to finish: the same sequencer names the same record.
  if (sequencer) for (const r of notification.Records) Object.assign(r.s3.object, { sequencer });
  return notification;
}

export interface ReconcileOptions {
  bucket: string;
  push: (event: S3rverEvent) => void;
  /** Keys whose live event came since this stack started listening: they are in the queue already. */
  queued: ReadonlySet<string>;
  log: (line: string) => void;
}

/**
 * Feeds the S3 event queue what the last stack on this data folder left undone when it was killed (its
 * queue lived only in memory): each object under uploads/ whose record is PENDING or PROCESSING, and
 * each under incoming/ with no finished record, gets its ObjectCreated event again, so the same handler
 * ends it SUCCEEDED or FAILED; a PROCESSING record whose object is gone gets one too (it ends
 * OBJECT_DELETED). The stack holds the data folder (data-dir-lock.ts), so the claims it finds are those
 * of a process that is gone: they are released first, or their lease would refuse the event for 15
 * minutes. One Scan and one listing; reads the handlers' environment (loadConfig). Returns the count.
 */
export async function requeueUnfinished(options: ReconcileOptions): Promise<number> {
  const config = loadConfig();
  const doc = createDocumentClient(config);
  const s3 = fixBucketLevelPaths(createS3Client(config), config.s3Endpoint);
  try {
    const [objects, records] = await Promise.all([
      listObjects(s3, options.bucket),
      listRecords(doc, config.tableName),
    ]);
    const repository = new PredictionRepository(doc, config);
    const events = [
      ...objectEvents(options, objects, records),
      ...goneObjectEvents(options, objects, records),
    ];
    for (const { record } of events) {
      if (record?.status === 'PROCESSING') await repository.release(record.id, record.objectVersion ?? '');
    }
    for (const { event } of events) options.push(event);
    if (events.length > 0)
      options.log(`re-queued ${events.length} file(s) the last stack left unprocessed (it was killed)`);
    return events.length;
  } finally {
    doc.destroy();
    s3.destroy();
  }
}

function objectEvents(options: ReconcileOptions, objects: StoredObject[], records: ObjectRecord[]) {
  return objects.flatMap((object) => {
    if (options.queued.has(object.key)) return [];
    const work = unfinishedWork(object, records);
    const event = work && eventFor(options.bucket, object, work.sequencer);
    return event ? [{ event, record: work.record }] : [];
  });
}

/** PROCESSING records whose object is gone: their event again, which finds it gone (OBJECT_DELETED). */
function goneObjectEvents(options: ReconcileOptions, objects: StoredObject[], records: ObjectRecord[]) {
  const stored = new Set(objects.map((o) => o.key));
  return records.flatMap((record) => {
    if (record.status !== 'PROCESSING' || stored.has(record.key) || options.queued.has(record.key)) return [];
    const { eTag, sequencer } = versionParts(record.objectVersion);
    const object = { key: record.key, eTag, size: 0, lastModified: record.updatedAt };
    const event = eventFor(options.bucket, object, sequencer);
    return event ? [{ event, record }] : [];
  });
}
