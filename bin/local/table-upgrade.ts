import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { speakerItemId } from '../../lambdas/app/speaker-repository.ts';
import { createTableInput } from '../../lambdas/app/table-definition.ts';

type Item = Record<string, AttributeValue>;

/** Whether the table lacks an index of the definition (a data folder from before it was added). */
async function lacksAnIndex(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  return createTableInput(tableName).GlobalSecondaryIndexes.some((index) => !present.has(index.IndexName));
}

async function scanAll(client: DynamoDBClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** A record written before the speaker index gets its partition, as records are written now. */
function withSpeakerKey(item: Item): Item {
  const scope = item.speakerScope?.S;
  const speakerId = item.speakerId?.S;
  if (!scope || !speakerId || item.speakerKey) return item;
  return { ...item, speakerKey: { S: speakerItemId({ scope, speakerId }) } };
}

async function putAll(client: DynamoDBClient, tableName: string, items: Item[]): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const { UnprocessedItems } = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }),
      );
      requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  }
}

async function waitUntilGone(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 20) {
    const gone = await client
      .send(new DescribeTableCommand({ TableName: tableName }))
      .then(() => false)
      .catch((error) => {
        if (error instanceof ResourceNotFoundException) return true;
        throw error;
      });
    if (gone) return;
    await sleep(20);
  }
  throw new Error(`Table ${tableName} was not deleted within 10 s`);
}

/**
 * Brings a local data folder's table up to the definition when an index was added since it was made:
 * dynalite cannot add an index to a table (its UpdateTable changes throughput only), so the table is made
 * again and every item copied back (records that name a speaker get its index partition), as DynamoDB
 * fills a new index from the items on AWS. Returns whether it did; the caller waits for ACTIVE.
 */
export async function upgradePredictionsTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  if (!(await lacksAnIndex(client, tableName))) return false;
  const items = (await scanAll(client, tableName)).map(withSpeakerKey);
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await waitUntilGone(client, tableName);
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  for (let waited = 0; waited < 10_000; waited += 20) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    await sleep(20);
  }
  await putAll(client, tableName, items);
  return true;
}
