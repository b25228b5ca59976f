import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ensurePredictionsTable,
  LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  startLocalDynamoDb,
} from '../bin/local/local-aws.ts';
import { upgradePredictionsTable } from '../bin/local/table-upgrade.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { ERASE_BATCH } from '../lambdas/app/speaker-erasure.ts';
import { createTableInput } from '../lambdas/app/table-definition.ts';
import { tessFixtures } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

interface Page {
  items: { id: string; speakerId?: string; status: string }[];
  nextCursor?: string;
}

describe("a speaker's records through the local stack: listed under the caller's key, erased with their objects", () => {
  let local: TestStack;
  const clip = tessFixtures()[0]!;

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${local.stack.apiUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': local.stack.apiKey, 'content-type': 'application/json', ...init.headers },
    });
  const admin: Record<string, string> = {};

  /** POST /uploads as `speakerId`; with `send`, PUTs the clip and waits for the processor. */
  const upload = async (speakerId: string, send = true) => {
    const bytes = readFileSync(clip.path);
    const created = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({ fileName: 'clip.flac', sizeBytes: bytes.length, speakerId }),
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as {
      id: string;
      upload: { method: string; url: string; headers: Record<string, string> };
    };
    const key = new URL(body.upload.url).pathname.split('/').slice(2).map(decodeURIComponent).join('/');
    if (send) await putTo(body.upload, bytes);
    return { id: body.id, upload: body.upload, key };
  };
  const putTo = async (
    target: { method: string; url: string; headers: Record<string, string> },
    body: Buffer,
  ) => {
    expect((await fetch(target.url, { method: target.method, headers: target.headers, body })).status).toBe(
      200,
    );
    await local.stack.idle();
  };
  const bySpeaker = async (speakerId: string, query = '') =>
    (await (await api(`/predictions?speakerId=${encodeURIComponent(speakerId)}${query}`)).json()) as Page;
  const exists = (key: string) =>
    local.s3.send(new HeadObjectCommand({ Bucket: local.stack.bucket, Key: key })).then(
      () => true,
      (error: Error) => (error.name === 'NotFound' ? false : Promise.reject(error)),
    );
  const erase = async (path: string, headers: Record<string, string> = {}) => {
    const response = await api(path, { method: 'DELETE', headers });
    expect(response.status).toBe(200);
    return response.json();
  };

  beforeAll(async () => {
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls';
    local = await startTestStack({ bucket: 'ser-speaker-records', apiKey: 'speaker-records-key' });
    admin['x-api-key'] = `${local.stack.apiKey}-admin`;
  });

  afterAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    await local?.close();
  });

  it("lists one speaker's records of the caller's key, newest first, pages with a cursor, refuses a made-up one", async () => {
    const first = await upload('agent-1');
    const second = await upload('agent-1');
    await upload('agent-2');
    // The same id in the drop folder is another scope's speaker, as is another API key's.
    await local.s3.send(
      new PutObjectCommand({
        Bucket: local.stack.bucket,
        Key: 'incoming/calls/agent-1/dropped.flac',
        Body: readFileSync(clip.path),
      }),
    );
    await local.stack.idle();
    const doc = createDocumentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      dynamoDbEndpoint: local.stack.dynamoDbEndpoint,
    });
    await new PredictionRepository(doc, {
      tableName: 'predictions',
      recordTtlDays: 30,
      processingLeaseSec: 60,
    }).createPending({
      id: '0b6f3c2e-9a4d-4d0e-8f7a-000000000001',
      fileName: 'other-key.flac',
      bucket: local.stack.bucket,
      key: 'uploads/0b6f3c2e-9a4d-4d0e-8f7a-000000000001/other-key.flac',
      speaker: { scope: 'key:another-key', speakerId: 'agent-1' },
    });
    doc.destroy();

    const all = await bySpeaker('agent-1');
    expect(all.items.map((p) => p.id)).toEqual([second.id, first.id]);
    expect(all.items.map((p) => [p.speakerId, p.status])).toEqual([
      ['agent-1', 'SUCCEEDED'],
      ['agent-1', 'SUCCEEDED'],
    ]);
    expect(all.nextCursor).toBeUndefined();
    const page1 = await bySpeaker('agent-1', '&limit=1');
    const page2 = await bySpeaker('agent-1', `&limit=1&cursor=${page1.nextCursor}`);
    expect([...page1.items, ...page2.items].map((p) => p.id)).toEqual([second.id, first.id]);
    expect(page2.nextCursor).toBeUndefined();

    const madeUp = Buffer.from(JSON.stringify({ speakerKey: 'SPEAKER#x', id: 'x' })).toString('base64url');
    const refused = await api(`/predictions?speakerId=agent-1&cursor=${madeUp}`);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'INVALID_CURSOR' } });
    expect((await api('/predictions?speakerId=a/b')).status).toBe(400);
  });

  it("a cursor pages only the listing that returned it: another listing's is 400 INVALID_CURSOR", async () => {
    const general = (await (await api('/predictions?limit=1')).json()) as Page & {
      items: { createdAt: string }[];
    };
    const agent1 = await bySpeaker('agent-1', '&limit=1');
    expect(general.nextCursor).toBeDefined();
    expect(agent1.nextCursor).toBeDefined();
    // A cursor as this API wrote them before they named their listing: the bare sort key.
    const [newest] = general.items;
    const untagged = Buffer.from(`${newest!.createdAt}#${newest!.id}`).toString('base64url');

    for (const path of [
      `/predictions?speakerId=agent-1&cursor=${general.nextCursor}`,
      `/predictions?cursor=${agent1.nextCursor}`,
      `/predictions?speakerId=agent-2&cursor=${agent1.nextCursor}`,
      `/predictions?cursor=${untagged}`,
      `/predictions?speakerId=agent-1&cursor=${untagged}`,
    ]) {
      const response = await api(path);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'INVALID_CURSOR' } });
    }
    expect((await api(`/predictions?limit=1&cursor=${general.nextCursor}`)).status).toBe(200);
  });

  it("erases the key's speaker: its records and uploaded audio go, other scopes' stay", async () => {
    const listed = await bySpeaker('agent-1');
    const keys = listed.items.map((p) => `uploads/${p.id}/clip.flac`);
    for (const key of keys) expect(await exists(key)).toBe(true);

    expect(await erase('/speakers/agent-1')).toEqual({
      speakerId: 'agent-1',
      erased: false, // the shipped model keeps no statistics
      recordsDeleted: 2,
      more: false,
    });
    for (const key of keys) expect(await exists(key)).toBe(false);
    for (const { id } of listed.items) expect((await api(`/predictions/${id}`)).status).toBe(404);
    expect((await bySpeaker('agent-1')).items).toEqual([]);
    expect((await bySpeaker('agent-2')).items).toHaveLength(1);
    expect(await exists('incoming/calls/agent-1/dropped.flac')).toBe(true);
    expect(await erase('/speakers/agent-1')).toMatchObject({ recordsDeleted: 0, more: false });
  });

  it("erases a drop-folder speaker's records, audio and result files with the admin credential", async () => {
    expect(await exists('results/calls/agent-1/dropped.flac.json')).toBe(true);
    expect(await erase('/drop-folder/speakers/agent-1', admin)).toMatchObject({
      recordsDeleted: 1,
      more: false,
    });
    expect(await exists('incoming/calls/agent-1/dropped.flac')).toBe(false);
    expect(await exists('results/calls/agent-1/dropped.flac.json')).toBe(false);
  });

  it(`erases at most ${ERASE_BATCH} records a call and says when to call again`, async () => {
    for (let i = 0; i < ERASE_BATCH + 2; i++) await upload('bulk', false);
    expect(await erase('/speakers/bulk')).toMatchObject({ recordsDeleted: ERASE_BATCH, more: true });
    expect(await erase('/speakers/bulk')).toMatchObject({ recordsDeleted: 2, more: false });
    expect((await bySpeaker('bulk')).items).toEqual([]);
  });

  it('an upload erased before its file came: the file is not taken, but deleted, and the record does not come back', async () => {
    const late = await upload('late', false);
    expect(await erase('/speakers/late')).toMatchObject({ recordsDeleted: 1, more: false });
    await putTo(late.upload, readFileSync(clip.path));
    expect((await api(`/predictions/${late.id}`)).status).toBe(404);
    // Its URL was still valid: the audio sent to it is not kept under a key no record names.
    expect(await exists(late.key)).toBe(false);
    expect((await bySpeaker('late')).items).toEqual([]);
    // Ignored, not retried into the dead-letter queue.
    expect(await readdir(local.stack.deadLetterDir).catch(() => [])).toEqual([]);
  });
});

describe('a data folder from before the speaker index', () => {
  const ref = { scope: 'key:local', speakerId: 'agent-1' };
  /** 60 records (more than one batch write), every other naming a speaker, newest first. */
  const ids = Array.from(
    { length: 60 },
    (_, i) => `0b6f3c2e-9a4d-4d0e-8f7a-${String(60 - i).padStart(12, '0')}`,
  );
  let dynamo: Awaited<ReturnType<typeof startLocalDynamoDb>>;
  let client: DynamoDBClient;
  let doc: ReturnType<typeof createDocumentClient>;
  let dir: string;
  let dumpFile: string;

  beforeEach(async () => {
    dynamo = await startLocalDynamoDb({});
    const settings = { region: LOCAL_REGION, credentials: LOCAL_S3_CREDENTIALS };
    client = new DynamoDBClient({ ...settings, endpoint: dynamo.endpoint });
    doc = createDocumentClient({ ...settings, dynamoDbEndpoint: dynamo.endpoint });
    dir = await mkdtemp(join(tmpdir(), 'ser-table-upgrade-'));
    dumpFile = join(dir, 'table-upgrade-dump.json');
    await createOldTable();
  });

  afterEach(async () => {
    client.destroy();
    doc.destroy();
    await dynamo.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The table as earlier versions made it (the listing index only), with `ids` in it. */
  async function createOldTable() {
    const current = createTableInput('old');
    await client.send(
      new CreateTableCommand({
        ...current,
        GlobalSecondaryIndexes: current.GlobalSecondaryIndexes.filter((i) => i.IndexName === 'byCreatedAt'),
        AttributeDefinitions: current.AttributeDefinitions.filter((a) => a.AttributeName !== 'speakerKey'),
      }),
    );
    for (const [i, id] of ids.entries()) {
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, 60 - i)).toISOString();
      const speaker = i % 2 === 0 ? { speakerId: ref.speakerId, speakerScope: ref.scope } : {};
      await doc.send(
        new PutCommand({
          TableName: 'old',
          Item: {
            id,
            status: 'SUCCEEDED',
            source: 'api',
            fileName: 'a.flac',
            createdAt,
            updatedAt: createdAt,
            gsi1pk: 'PREDICTION',
            gsi1sk: `${createdAt}#${id}`,
            expiresAt: 4_102_444_800,
            ...speaker,
          },
        }),
      );
    }
  }

  async function expectEveryRecord() {
    const repository = new PredictionRepository(doc, {
      tableName: 'old',
      recordTtlDays: 30,
      processingLeaseSec: 60,
    });
    expect((await repository.list({ limit: 100 })).items.map((p) => p.id)).toEqual(ids);
    expect((await repository.listBySpeaker(ref, { limit: 100 })).items.map((p) => p.id)).toEqual(
      ids.filter((_, i) => i % 2 === 0),
    );
    expect(existsSync(dumpFile)).toBe(false);
  }

  it('gets the index on the next start, with every record and those that name a speaker in it', async () => {
    await ensurePredictionsTable(dynamo.endpoint, 'old', dumpFile);
    await expectEveryRecord();
  });

  it.each([
    ['after the delete, before the new table', 'CreateTableCommand'],
    ['with the new table still empty', 'BatchWriteItemCommand'],
  ])('a start that crashed %s: the next start restores every record from the dump', async (_, command) => {
    const crashing = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      endpoint: dynamo.endpoint,
    });
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === command) throw new Error('crash');
        return next(args);
      },
      { step: 'initialize' },
    );
    await expect(upgradePredictionsTable(crashing, 'old', dumpFile)).rejects.toThrow('crash');
    crashing.destroy();
    expect(existsSync(dumpFile)).toBe(true);
    expect((await client.send(new ListTablesCommand({}))).TableNames ?? []).toEqual(
      command === 'CreateTableCommand' ? [] : ['old'],
    );

    await ensurePredictionsTable(dynamo.endpoint, 'old', dumpFile);
    await expectEveryRecord();
  });
});
