import { open, readFile, rename, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
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

/** The table's status, or `GONE` when there is none. */
async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string> {
  return client
    .send(new DescribeTableCommand({ TableName: tableName }))
    .then((d) => d.Table?.TableStatus ?? 'UNKNOWN')
    .catch((error) => {
      if (error instanceof ResourceNotFoundException) return 'GONE';
      throw error;
    });
}

/**
 * Creates the table from the current definition when there is none and waits until it is ACTIVE (at
 * most 10 s, else throws): even with createTableMs 0, dynalite keeps a new table CREATING for a moment,
 * or a just-deleted one DELETING, and writes before then fail with ResourceNotFoundException.
 */
export async function ensureActiveTable(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 20) {
    const status = await tableStatus(client, tableName);
    if (status === 'ACTIVE') return;
    if (status === 'GONE') {
      await client.send(new CreateTableCommand(createTableInput(tableName))).catch((error) => {
        if (!(error instanceof ResourceInUseException)) throw error;
      });
      continue;
    }
    await sleep(20);
  }
  throw new Error(`Table ${tableName} did not become ACTIVE within 10 s`);
}

/** Deletes the table if there is one and waits until it is gone (at most 10 s, else throws). */
async function deleteTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName })).catch((error) => {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  });
  for (let waited = 0; waited < 10_000; waited += 20) {
    if ((await tableStatus(client, tableName)) === 'GONE') return;
    await sleep(20);
  }
  throw new Error(`Table ${tableName} was not deleted within 10 s`);
}

/** Binary attribute values (`B`, `BS`) as JSON: base64 under a key no attribute value type uses. */
const BINARY = '$base64';
const toJson = (_key: string, value: unknown) =>
  value instanceof Uint8Array ? { [BINARY]: Buffer.from(value).toString('base64') } : value;
const fromJson = (_key: string, value: unknown) =>
  value && typeof value === 'object' && BINARY in value
    ? new Uint8Array(Buffer.from((value as Record<string, string>)[BINARY] ?? '', 'base64'))
    : value;

/**
 * Writes every item to `dumpFile` before the table is deleted: a temporary file, flushed to disk, then
 * renamed, so the dump is either whole or absent, never half written.
 */
async function writeDump(dumpFile: string, items: Item[]): Promise<void> {
  const temporary = `${dumpFile}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(JSON.stringify(items, toJson));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, dumpFile);
}

/** The table made again from the current definition, with `items` in it; the dump is removed last. */
async function rebuildFrom(client: DynamoDBClient, tableName: string, items: Item[], dumpFile: string) {
  await deleteTable(client, tableName);
  await ensureActiveTable(client, tableName);
  await putAll(client, tableName, items);
  await rm(dumpFile);
}

/**
 * A start after one that crashed while upgrading (`dumpFile` still there: the table may be the old one,
 * gone, or the new one with some of the items): the table is made again from the current definition and
 * every item of the dump written to it. Run before anything else reads or writes the table. Returns
 * whether there was a dump.
 */
export async function restoreInterruptedUpgrade(
  client: DynamoDBClient,
  tableName: string,
  dumpFile: string,
): Promise<boolean> {
  const text = await readFile(dumpFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  if (text === undefined) return false;
  await rebuildFrom(client, tableName, JSON.parse(text, fromJson) as Item[], dumpFile);
  return true;
}

/**
 * Brings a local data folder's table up to the definition when an index was added since it was made:
 * dynalite cannot add an index to a table (its UpdateTable changes throughput only), so the table is made
 * again and every item copied back (records that name a speaker get its index partition), as DynamoDB
 * fills a new index from the items on AWS. The items are first dumped to `dumpFile` (in the data folder),
 * removed once they are all back: a start that finds it restores from it (`restoreInterruptedUpgrade`).
 * Returns whether it upgraded; the table is ACTIVE when it returns.
 */
export async function upgradePredictionsTable(
  client: DynamoDBClient,
  tableName: string,
  dumpFile: string,
): Promise<boolean> {
  if (!(await lacksAnIndex(client, tableName))) return false;
  const items = (await scanAll(client, tableName)).map(withSpeakerKey);
  await writeDump(dumpFile, items);
  await rebuildFrom(client, tableName, items, dumpFile);
  return true;
}
