import { readFileSync } from 'node:fs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { dropFolderScope } from '../lambdas/app/speaker-context.ts';
import { speakerItemId } from '../lambdas/app/speaker-repository.ts';
import { tessFixtures } from './helpers/fixtures.ts';
import { droppedRecordId, startTestStack, type TestStack } from './helpers/local-stack.ts';

interface Page {
  items: { id: string; speakerId?: string; source: string }[];
  nextCursor?: string;
}

const ROUTE = '/drop-folder/speakers/agent-1/predictions';

describe("a drop-folder speaker's records through the local stack: listed with the admin credential across the speaker prefixes", () => {
  let local: TestStack;
  const clip = readFileSync(tessFixtures()[0]!.path);
  const admin: Record<string, string> = {};
  /** The drop-folder records of agent-1, newest first, and the others the listing must leave out. */
  const agent1: string[] = [];
  const others: string[] = [];
  /** The API key's agent-1: another scope's speaker of the same id. */
  const apiKeyAgent1: string[] = [];

  const api = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    fetch(`${local.stack.apiUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': local.stack.apiKey, 'content-type': 'application/json', ...headers },
    });
  const json = async (response: Response) => {
    expect(response.status).toBe(200);
    return (await response.json()) as Page;
  };
  const listed = async (query = '') => json(await api(`${ROUTE}${query}`, admin));

  const drop = (path: string) => droppedRecordId(local, path, clip);

  beforeAll(async () => {
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls,meetings';
    local = await startTestStack({ bucket: 'ser-drop-speaker-records', apiKey: 'drop-speaker-records-key' });
    admin['x-api-key'] = `${local.stack.apiKey}-admin`;
    // One after another, so that each is newer than the last: agent-1 under both prefixes, interleaved.
    for (const path of ['calls/agent-1/a.flac', 'meetings/agent-1/b.flac', 'calls/agent-1/c.flac']) {
      agent1.unshift(await drop(path));
    }
    others.push(await drop('calls/agent-2/d.flac'));
    // Not under a speaker prefix: no speaker, though its folder has the name.
    others.push(await drop('archive/agent-1/e.flac'));
    // Uploads of the API key's agent-1 (PENDING: their records are listed as soon as they are asked for).
    for (let i = 0; i < 2; i++) {
      const created = await api(
        '/uploads',
        {},
        { method: 'POST', body: JSON.stringify({ fileName: 'clip.flac', speakerId: 'agent-1' }) },
      );
      expect(created.status).toBe(201);
      apiKeyAgent1.unshift(((await created.json()) as { id: string }).id);
    }
    others.push(...apiKeyAgent1);
  });

  afterAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    await local?.close();
  });

  it("lists the speaker's records under both prefixes, newest first, as GET /predictions/{id} shows them", async () => {
    const page = await listed();
    expect(page.items.map((p) => p.id)).toEqual(agent1);
    expect(page.nextCursor).toBeUndefined();
    for (const item of page.items) expect(item).toEqual(await json(await api(`/predictions/${item.id}`)));
    expect(page.items.map((p) => [p.speakerId, p.source])).toEqual(
      agent1.map(() => ['agent-1', 'drop-folder']),
    );
    // Not another speaker's, not another folder's, not an API key's speaker of the same id.
    for (const id of others) expect(page.items.map((p) => p.id)).not.toContain(id);
    expect((await json(await api('/predictions?speakerId=agent-1'))).items.map((p) => p.id)).toEqual(
      apiKeyAgent1,
    );
    const agent2 = await json(await api('/drop-folder/speakers/agent-2/predictions', admin));
    expect(agent2.items.map((p) => p.id)).toEqual([others[0]]);
  });

  it.each([1, 2])(
    'pages the merged listing %i at a time with its cursor, skipping nothing',
    async (limit) => {
      const seen: string[] = [];
      let page = await listed(`?limit=${limit}`);
      for (let pages = 1; ; pages++) {
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items.map((p) => p.id));
        if (!page.nextCursor) break;
        expect(pages).toBeLessThan(agent1.length);
        page = await listed(`?limit=${limit}&cursor=${page.nextCursor}`);
      }
      expect(seen).toEqual(agent1);
    },
  );

  it("a cursor pages only its own listing: GET /predictions's is refused here, this one's there", async () => {
    const general = await json(await api('/predictions?limit=1'));
    const bySpeaker = await json(await api('/predictions?speakerId=agent-1&limit=1'));
    const own = await listed('?limit=1');
    for (const page of [general, bySpeaker, own]) expect(page.nextCursor).toBeDefined();

    for (const [path, headers] of [
      [`${ROUTE}?cursor=${general.nextCursor}`, admin],
      [`${ROUTE}?cursor=${bySpeaker.nextCursor}`, admin],
      [`/predictions?cursor=${own.nextCursor}`, {}],
      [`/predictions?speakerId=agent-1&cursor=${own.nextCursor}`, {}],
      [`/drop-folder/speakers/agent-2/predictions?cursor=${own.nextCursor}`, admin],
    ] as const) {
      const response = await api(path, headers);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'INVALID_CURSOR' } });
    }
  });

  it('is refused without the admin credential, as the erase route is; a bad speakerId is 400', async () => {
    // The user API key (api's default) and a wrong one.
    for (const headers of [{}, { 'x-api-key': 'wrong' }] as Record<string, string>[]) {
      for (const [path, method] of [
        [ROUTE, 'GET'],
        ['/drop-folder/speakers/agent-1', 'DELETE'],
      ] as const) {
        const response = await api(path, headers, { method });
        expect(response.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(await response.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      }
    }
    const withoutKey = await fetch(`${local.stack.apiUrl}${ROUTE}`);
    expect(withoutKey.status).toBe(403);
    // Refused, not just empty: the records are still there.
    expect((await listed()).items).toHaveLength(agent1.length);
    const invalid = await api('/drop-folder/speakers/%20agent-1/predictions', admin);
    expect(invalid.status).toBe(400);
    expect((await api(`${ROUTE}?limit=101`, admin)).status).toBe(400);
  });

  it("skips no record when one prefix's Query stops at DynamoDB's 1 MB before the other's older records", async () => {
    // Prepare: under calls, four records of ~350 kB (a Query reads three before its 1 MB); under
    // meetings, small ones between and after them.
    const doc = createDocumentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      dynamoDbEndpoint: local.stack.dynamoDbEndpoint,
    });
    const record = async (prefix: string, second: number, padBytes: number) => {
      const id = `${prefix === 'calls' ? 'c' : 'd'}${String(second).padStart(31, '0')}`;
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
      const ref = { scope: dropFolderScope(prefix), speakerId: 'big' };
      await doc.send(
        new PutCommand({
          TableName: 'predictions',
          Item: {
            id,
            status: 'SUCCEEDED',
            source: 'drop-folder',
            fileName: `${second}.flac`,
            bucket: local.stack.bucket,
            key: `incoming/${prefix}/big/${second}.flac`,
            createdAt,
            updatedAt: createdAt,
            gsi1pk: 'PREDICTION',
            gsi1sk: `${createdAt}#${id}`,
            expiresAt: 4_102_444_800,
            speakerId: ref.speakerId,
            speakerScope: ref.scope,
            speakerKey: speakerItemId(ref),
            padding: 'x'.repeat(padBytes),
          },
        }),
      );
      return { second, id };
    };
    const all = [
      ...(await Promise.all([50, 40, 30, 20].map((second) => record('calls', second, 350_000)))),
      ...(await Promise.all([35, 10].map((second) => record('meetings', second, 0)))),
    ].sort((a, b) => b.second - a.second);
    doc.destroy();

    // Act
    const seen: string[] = [];
    let cursor = '';
    for (let pages = 0; pages < all.length; pages++) {
      const page = await json(await api(`/drop-folder/speakers/big/predictions${cursor}`, admin));
      seen.push(...page.items.map((p) => p.id));
      if (!page.nextCursor) break;
      cursor = `?cursor=${page.nextCursor}`;
    }

    // Assess
    expect(seen).toEqual(all.map((r) => r.id));
  });

  it('lists nothing once the admin erase has deleted the speaker', async () => {
    const erased = await api('/drop-folder/speakers/agent-1', admin, { method: 'DELETE' });
    expect(await erased.json()).toMatchObject({ recordsDeleted: agent1.length, more: false });
    expect(await listed()).toEqual({ items: [] });
    expect((await json(await api('/predictions?speakerId=agent-1'))).items).toHaveLength(apiKeyAgent1.length);
  });
});
