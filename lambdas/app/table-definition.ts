import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
/**
 * The one definition of the predictions table, shared by the CDK stack (lib/) and the local stack
 * (bin/local/), so the keys and the index that the repository queries exist in both.
 *
 * Access patterns: get by id (partition key `id`); list newest first (GSI `byCreatedAt` with the constant
 * partition `gsi1pk = 'PREDICTION'` and sort key `createdAt#id`). One partition for the listing is a hot
 * key at scale (~1,000 writes/s per partition), far above what this API sees; shard the constant if it
 * ever matters.
 */
export const PREDICTIONS_TABLE = {
  partitionKey: 'id',
  listIndex: { name: 'byCreatedAt', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  listPartition: 'PREDICTION',
  /** Epoch seconds after which DynamoDB TTL deletes the item. */
  ttlAttribute: 'expiresAt',
} as const;

/** The CreateTable input for a local DynamoDB (dynalite), mirroring the CDK table (on-demand, same keys). */
export function createTableInput(tableName: string) {
  const { partitionKey, listIndex } = PREDICTIONS_TABLE;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: 'S' as const },
      { AttributeName: listIndex.partitionKey, AttributeType: 'S' as const },
      { AttributeName: listIndex.sortKey, AttributeType: 'S' as const },
    ],
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' as const }],
    GlobalSecondaryIndexes: [
      {
        IndexName: listIndex.name,
        KeySchema: [
          { AttributeName: listIndex.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: listIndex.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
    ],
  };
}

/**
 * The one query behind every "newest first" listing (predictions, models, training jobs): one listing
 * partition of the `byCreatedAt` index, sort key descending, a page of `limit` from `startKey`.
 */
export function newestFirstQuery(
  tableName: string,
  partition: string,
  limit: number,
  startKey?: Record<string, unknown>,
): QueryCommandInput {
  const { listIndex } = PREDICTIONS_TABLE;
  return {
    TableName: tableName,
    IndexName: listIndex.name,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': listIndex.partitionKey },
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
