import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
/**
 * The one definition of the predictions table, shared by the CDK stack (lib/) and the local stack
 * (bin/local/), so the keys and the index that the repository queries exist in both.
 *
 * Access patterns: get by id (partition key `id`); list newest first (GSI `byCreatedAt` with the constant
 * partition `gsi1pk = 'PREDICTION'` and sort key `createdAt#id`). One partition for the listing is a hot
 * key at scale (~1,000 writes/s per partition), far above what this API sees; shard the constant if it
 * ever matters. A speaker's records newest first (GSI `bySpeaker`): partition `speakerKey`, set only on
 * records that name a speaker (its value is the speaker's statistics item id, `SPEAKER#<hash of scope and
 * speakerId>`: one partition per speaker and scope, no caller text in a key), sort key the listing's
 * `createdAt#id`. Sparse: records without a speaker are not in it.
 */
export const PREDICTIONS_TABLE = {
  partitionKey: 'id',
  listIndex: { name: 'byCreatedAt', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  speakerIndex: { name: 'bySpeaker', partitionKey: 'speakerKey', sortKey: 'gsi1sk' },
  listPartition: 'PREDICTION',
  /** Epoch seconds after which DynamoDB TTL deletes the item. */
  ttlAttribute: 'expiresAt',
} as const;

/** The table's secondary indexes (both project every attribute: their queries return whole records). */
export const SECONDARY_INDEXES = [PREDICTIONS_TABLE.listIndex, PREDICTIONS_TABLE.speakerIndex] as const;

/** The CreateTable input for a local DynamoDB (dynalite), mirroring the CDK table (on-demand, same keys). */
export function createTableInput(tableName: string) {
  const { partitionKey } = PREDICTIONS_TABLE;
  const attributes = [partitionKey, ...SECONDARY_INDEXES.flatMap((i) => [i.partitionKey, i.sortKey])];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...new Set(attributes)].map((name) => ({
      AttributeName: name,
      AttributeType: 'S' as const,
    })),
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' as const }],
    GlobalSecondaryIndexes: SECONDARY_INDEXES.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}

/**
 * The one query behind every "newest first" listing (predictions, models, training jobs; a speaker's
 * records): one partition of the `byCreatedAt` index (or `index`), sort key descending, a page of
 * `limit` from `startKey`.
 */
export function newestFirstQuery(
  tableName: string,
  partition: string,
  limit: number,
  startKey?: Record<string, unknown>,
  index: (typeof SECONDARY_INDEXES)[number] = PREDICTIONS_TABLE.listIndex,
): QueryCommandInput {
  return {
    TableName: tableName,
    IndexName: index.name,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': index.partitionKey },
    ExpressionAttributeValues: { ':pk': partition },
    ScanIndexForward: false,
    Limit: limit,
    ...(startKey ? { ExclusiveStartKey: startKey } : {}),
  };
}

/**
 * A DynamoDB write refused by its condition: the one expected refusal of a conditional write (a claim
 * taken, a lock held). By name, so that it holds whichever copy of the SDK threw it.
 */
export const isConditionalCheckFailed = (error: unknown): boolean =>
  error instanceof Error && error.name === 'ConditionalCheckFailedException';
