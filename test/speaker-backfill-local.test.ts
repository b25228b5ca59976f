import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { backfillSpeakerKeys } from '../lambdas/app/speaker-backfill.ts';
import { dropFolderScope } from '../lambdas/app/speaker-context.ts';
import { speakerItemId } from '../lambdas/app/speaker-repository.ts';
import { JOB_KEY_PREFIX, JOB_LIST_PARTITION } from '../lambdas/training/job-repository.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

const run = promisify(execFile);
const TABLE = 'predictions';

const apiRef = { scope: 'key:local', speakerId: 'agent-1' };
const callsRef = { scope: dropFolderScope('calls'), speakerId: 'agent-1' };

/** A record as the deployment before the `bySpeaker` index wrote it: no `speakerKey`. */
function oldRecord(id: string, source: 'api' | 'drop-folder', key: string, speaker: Record<string, string>) {
  const createdAt = new Date(
    Date.UTC(2026, 10, 1, 0, 0, Number.parseInt(id.slice(-2), 16) % 60),
  ).toISOString();
  return {
    id,
    status: 'SUCCEEDED',
    source,
    fileName: key.split('/').pop(),
    createdAt,
    updatedAt: createdAt,
    bucket: 'ser-backfill',
    key,
    objectVersion: 'v1',
    emotion: 'sad',
    confidence: 0.9,
    expiresAt: 4_102_444_800,
    gsi1pk: 'PREDICTION',
    gsi1sk: `${createdAt}#${id}`,
    ...speaker,
  };
}

const API_ID = '0b6f3c2e-9a4d-4d0e-8f7a-0000000000a1';
const DROP_ID = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02';
const UNCONFIGURED_ID = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb03';
const NO_SPEAKER_ID = '0b6f3c2e-9a4d-4d0e-8f7a-0000000000a4';
const MISMATCHED_ID = 'cccccccccccccccccccccccccccccc05';
const INDEXED_ID = '0b6f3c2e-9a4d-4d0e-8f7a-0000000000a6';

const OLD_ITEMS = [
  oldRecord(API_ID, 'api', `uploads/${API_ID}/a.flac`, { speakerId: 'agent-1', speakerScope: 'key:local' }),
  // Older drop-folder records carry the speakerId their folder named, never a scope.
  oldRecord(DROP_ID, 'drop-folder', 'incoming/calls/agent-1/old.flac', { speakerId: 'agent-1' }),
  // A prefix the operator does not list: its scope cannot be known.
  oldRecord(UNCONFIGURED_ID, 'drop-folder', 'incoming/meetings/agent-1/old.flac', { speakerId: 'agent-1' }),
  oldRecord(NO_SPEAKER_ID, 'api', `uploads/${NO_SPEAKER_ID}/b.flac`, {}),
  // Its folder names another speaker than the record: not guessed.
  oldRecord(MISMATCHED_ID, 'drop-folder', 'incoming/calls/agent-2/x.flac', { speakerId: 'agent-1' }),
  // Already in the index (written by the current deployment).
  oldRecord(INDEXED_ID, 'api', `uploads/${INDEXED_ID}/c.flac`, {
    speakerId: 'agent-9',
    speakerScope: 'key:local',
    speakerKey: speakerItemId({ scope: 'key:local', speakerId: 'agent-9' }),
  }),
  // Items of the same table that are not prediction records, some carrying a speakerId.
  { id: speakerItemId(apiRef), count: 3, mean: [1], m2: [0], version: 3, expiresAt: 4_102_444_800 },
  {
    id: `${JOB_KEY_PREFIX}job-1`,
    jobId: 'job-1',
    status: 'SUCCEEDED',
    speakerId: 'agent-1',
    gsi1pk: JOB_LIST_PARTITION,
    gsi1sk: '2026-11-01T00:00:00.000Z#job-1',
  },
  { id: 'MODEL_ACTIVE', version: '1.6.0', speakerId: 'agent-1', gsi1pk: 'PREDICTION' },
];

interface Page {
  items: { id: string; speakerId?: string }[];
}

describe('ser backfill-speakers: records of an older deployment join their speaker on the local stack', () => {
  let local: TestStack;
  let doc: ReturnType<typeof createDocumentClient>;
  let repository: PredictionRepository;

  const api = (path: string, init: RequestInit = {}, key = local.stack.apiKey) =>
    fetch(`${local.stack.apiUrl}${path}`, { ...init, headers: { 'x-api-key': key, ...init.headers } });
  const bySpeaker = async (speakerId: string) =>
    ((await (await api(`/predictions?speakerId=${speakerId}`)).json()) as Page).items.map((p) => p.id);
  const items = async () => {
    const { Items = [] } = await doc.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }));
    return Object.fromEntries(Items.map((item) => [item.id as string, item]));
  };

  /** `npx ser backfill-speakers …` against the stack's dynalite; the exit code comes back, not thrown. */
  async function ser(...args: string[]) {
    const argv = ['tsx', 'bin/ser.ts', 'backfill-speakers', '--table', TABLE];
    argv.push('--dynamodb-endpoint', local.stack.dynamoDbEndpoint, ...args);
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      AWS_REGION: LOCAL_REGION,
    };
    try {
      const { stdout, stderr } = await run('npx', argv, { env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  beforeAll(async () => {
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls';
    local = await startTestStack({ bucket: 'ser-backfill', apiKey: 'backfill-key' });
    doc = createDocumentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      dynamoDbEndpoint: local.stack.dynamoDbEndpoint,
    });
    repository = new PredictionRepository(doc, {
      tableName: TABLE,
      recordTtlDays: 30,
      processingLeaseSec: 60,
    });
    for (const Item of OLD_ITEMS) await doc.send(new PutCommand({ TableName: TABLE, Item }));
  });

  afterAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    doc?.destroy();
    await local?.close();
  });

  it('--dry-run counts and writes nothing; the old records are not listed yet', async () => {
    const before = await items();
    expect(await bySpeaker('agent-1')).toEqual([]);

    const result = await ser('--drop-folder-speaker-prefixes', 'calls', '--dry-run');
    expect(result.stdout).toContain(
      '4 records without speakerKey: 2 would be updated, 0 already done, 2 left without scope',
    );
    expect(result.code).toBe(1); // records left without a scope
    expect(await items()).toEqual(before);
  });

  it('gives the records it can scope the attributes new records get: the listing and speakerRecords see them', async () => {
    const before = await items();
    const result = await ser('--drop-folder-speaker-prefixes', 'calls');
    expect(result.stdout).toContain(
      '4 records without speakerKey: 2 updated, 0 already done, 2 left without scope',
    );
    expect(result.code).toBe(1);

    const after = await items();
    expect(after[API_ID]).toEqual({ ...before[API_ID], speakerKey: speakerItemId(apiRef) });
    expect(after[DROP_ID]).toEqual({
      ...before[DROP_ID],
      speakerScope: callsRef.scope,
      speakerKey: speakerItemId(callsRef),
    });
    // Everything else as it was: unscoped, unnamed, mismatched, indexed, and the other items.
    for (const id of Object.keys(before).filter((id) => id !== API_ID && id !== DROP_ID)) {
      expect(after[id], id).toEqual(before[id]);
    }

    expect(await bySpeaker('agent-1')).toEqual([API_ID]);
    expect((await repository.speakerRecords(callsRef, 10)).records.map((r) => r.id)).toEqual([DROP_ID]);
  });

  it('a request that fails (a missing table) is exit code 1 with one line saying why, not a usage error', async () => {
    const result = await ser('--table', 'no-such-table');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ser backfill-speakers: Requested resource not found.*run it again\)$/m);
  });

  it('a second run updates nothing', async () => {
    const before = await items();
    const result = await ser('--drop-folder-speaker-prefixes', 'calls');
    expect(result.stdout).toContain(
      '2 records without speakerKey: 0 updated, 0 already done, 2 left without scope',
    );
    expect(await items()).toEqual(before);
    const clean = await ser('--drop-folder-speaker-prefixes', 'calls,meetings', '--dry-run');
    expect(clean.stdout).toContain('1 would be updated, 0 already done, 1 left without scope');
  });

  it('the erase routes delete the backfilled records and leave the others', async () => {
    expect(await (await api('/speakers/agent-1', { method: 'DELETE' })).json()).toMatchObject({
      recordsDeleted: 1,
      more: false,
    });
    const admin = `${local.stack.apiKey}-admin`;
    expect(
      await (await api('/drop-folder/speakers/agent-1', { method: 'DELETE' }, admin)).json(),
    ).toMatchObject({ recordsDeleted: 1, more: false });
    const after = await items();
    expect(after[API_ID]).toBeUndefined();
    expect(after[DROP_ID]).toBeUndefined();
    for (const id of [UNCONFIGURED_ID, NO_SPEAKER_ID, MISMATCHED_ID, INDEXED_ID])
      expect(after[id]).toBeDefined();
  });

  it('pages through the Scan, and a record indexed, changed or deleted after the Scan read it is not written', async () => {
    const ids = [
      'dddddddddddddddddddddddddddddd10',
      'dddddddddddddddddddddddddddddd11',
      'dddddddddddddddddddddddddddddd12',
    ];
    for (const id of ids) {
      await doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: oldRecord(id, 'drop-folder', `incoming/calls/agent-3/${id}.flac`, { speakerId: 'agent-3' }),
        }),
      );
    }
    const ref = { scope: dropFolderScope('calls'), speakerId: 'agent-3' };
    const [indexed, changed, deleted] = ids as [string, string, string];
    let pages = 0;
    // Between the Scan and the updates: one indexed by a concurrent run, one renamed, one erased.
    const racing: Parameters<typeof backfillSpeakerKeys>[0] = {
      unindexedSpeakerRecords: async (startKey, pageSize) => {
        pages++;
        const page = await repository.unindexedSpeakerRecords(startKey, pageSize);
        for (const record of page.records) {
          if (record.id === indexed) expect(await repository.indexSpeakerRecord(indexed, ref)).toBe(true);
          if (record.id === changed) {
            await doc.send(
              new PutCommand({ TableName: TABLE, Item: { ...(await items())[changed], speakerId: 'x' } }),
            );
          }
          if (record.id === deleted)
            await doc.send(new DeleteCommand({ TableName: TABLE, Key: { id: deleted } }));
        }
        return page;
      },
      indexSpeakerRecord: (id, r) => repository.indexSpeakerRecord(id, r),
    };
    const summary = await backfillSpeakerKeys(racing, {
      dropFolderSpeakerPrefixes: ['calls'],
      scanPageSize: 2,
    });
    expect(pages).toBeGreaterThan(3);
    expect(summary).toMatchObject({ unindexed: 5, updated: 0, alreadyDone: 3, withoutScope: 2 });
    const after = await items();
    expect(after[deleted]).toBeUndefined();
    expect(after[changed]?.speakerKey).toBeUndefined();
    expect(after[indexed]?.speakerKey).toBe(speakerItemId(ref));
  });

  it('--assign-drop-folder-speakers gives drop-folder records made before their prefix was listed its speaker', async () => {
    const unnamed = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeee20';
    const elsewhere = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeee21';
    const directly = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeee22';
    for (const [id, key] of [
      [unnamed, 'incoming/calls/agent-5/before-prefix.flac'],
      [elsewhere, 'incoming/other/agent-5/x.flac'],
      [directly, 'incoming/calls/x.flac'],
    ] as const)
      await doc.send(new PutCommand({ TableName: TABLE, Item: oldRecord(id, 'drop-folder', key, {}) }));
    const ref = { scope: dropFolderScope('calls'), speakerId: 'agent-5' };
    const before = await items();

    // Without the option, as before: records without a speaker are not looked at.
    await ser('--drop-folder-speaker-prefixes', 'calls');
    expect((await items())[unnamed]).toEqual(before[unnamed]);

    const result = await ser('--drop-folder-speaker-prefixes', 'calls', '--assign-drop-folder-speakers');
    expect(result.stdout).toContain('1 drop-folder records without a speaker under a prefix: 1 updated');
    const after = await items();
    expect(after[unnamed]).toEqual({
      ...before[unnamed],
      speakerId: 'agent-5',
      speakerScope: ref.scope,
      speakerKey: speakerItemId(ref),
    });
    expect(after[elsewhere]).toEqual(before[elsewhere]);
    expect(after[directly]).toEqual(before[directly]);
    expect((await repository.speakerRecords(ref, 10)).records.map((r) => r.id)).toEqual([unnamed]);
  });
});
