import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptingModelDir } from './helpers/adapting-model.ts';
import { tessFixtures } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

interface PredictionBody {
  status: string;
  speakerId?: string;
  adaptation?: { clips: number };
}

describe('speaker-adaptive predictions through the local stack (API, drop folder, erase)', () => {
  let local: TestStack;
  let modelDir: string;
  const clips = tessFixtures().slice(0, 4);

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${local.stack.apiUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': local.stack.apiKey, 'content-type': 'application/json', ...init.headers },
    });

  /** Uploads one clip with a speakerId and waits for its terminal record. */
  const predictAs = async (speakerId: string, path: string): Promise<PredictionBody> => {
    const bytes = readFileSync(path);
    const created = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({ fileName: 'clip.flac', sizeBytes: bytes.length, speakerId }),
    });
    expect(created.status).toBe(201);
    const { id, upload } = (await created.json()) as {
      id: string;
      upload: { method: string; url: string; headers: Record<string, string> };
    };
    await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes });
    await local.stack.idle();
    return (await (await api(`/predictions/${id}`)).json()) as PredictionBody;
  };

  /** Drops one clip into a speaker folder and reads the result file beside it. */
  const dropAs = async (folder: string, path: string, name: string): Promise<PredictionBody> => {
    const key = `incoming/calls/${folder}/${name}`;
    await local.s3.send(
      new PutObjectCommand({ Bucket: local.stack.bucket, Key: key, Body: readFileSync(path) }),
    );
    await local.stack.idle();
    const result = await local.s3.send(
      new GetObjectCommand({ Bucket: local.stack.bucket, Key: `results/calls/${folder}/${name}.json` }),
    );
    return JSON.parse(await result.Body!.transformToString()) as PredictionBody;
  };

  beforeAll(async () => {
    modelDir = await adaptingModelDir({ minClips: 2 });
    process.env.SER_MODEL_DIR = modelDir;
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls';
    local = await startTestStack({ bucket: 'ser-speaker', apiKey: 'speaker-test-key' });
  });

  afterAll(async () => {
    await local?.close();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('adapts API uploads of one speaker once 2 earlier clips are known', async () => {
    const results = [];
    for (const clip of clips.slice(0, 3)) results.push(await predictAs('agent-7', clip.path));
    expect(results.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(results.map((r) => r.speakerId)).toEqual(['agent-7', 'agent-7', 'agent-7']);
    expect(results.map((r) => r.adaptation)).toEqual([undefined, undefined, { clips: 2 }]);
    // Another speaker starts from nothing.
    expect((await predictAs('agent-8', clips[3]!.path)).adaptation).toBeUndefined();
  });

  it('adapts drop-folder clips under a speaker folder when the prefix opts in', async () => {
    const results = [];
    for (const [i, clip] of clips.slice(0, 3).entries()) {
      results.push(await dropAs('agent-9', clip.path, `clip-${i}.flac`));
    }
    expect(results.map((r) => r.speakerId)).toEqual(['agent-9', 'agent-9', 'agent-9']);
    expect(results.map((r) => r.adaptation)).toEqual([undefined, undefined, { clips: 2 }]);
  });

  it("erases a speaker's statistics: the next clip is context-free again", async () => {
    const erased = await api('/speakers/agent-7', { method: 'DELETE' });
    expect(await erased.json()).toMatchObject({ speakerId: 'agent-7', erased: true, more: false });
    const next = await predictAs('agent-7', clips[3]!.path);
    expect(next).toMatchObject({ status: 'SUCCEEDED', speakerId: 'agent-7' });
    expect(next.adaptation).toBeUndefined();
  });

  it("erases a drop-folder speaker's statistics with the admin credential, not the user key", async () => {
    const byUser = await api('/drop-folder/speakers/agent-9', { method: 'DELETE' });
    expect(byUser.status).toBe(403);
    // The user route reaches only the key's own speakers: the drop folder's agent-9 is not among them.
    expect(await (await api('/speakers/agent-9', { method: 'DELETE' })).json()).toMatchObject({
      erased: false,
    });

    const byAdmin = await api('/drop-folder/speakers/agent-9', {
      method: 'DELETE',
      headers: { 'x-api-key': `${local.stack.apiKey}-admin` },
    });
    expect(await byAdmin.json()).toMatchObject({ speakerId: 'agent-9', erased: true, more: false });
    const adminOnUserRoute = await api('/speakers/agent-9', {
      method: 'DELETE',
      headers: { 'x-api-key': `${local.stack.apiKey}-admin` },
    });
    expect(adminOnUserRoute.status).toBe(403);
    expect(await adminOnUserRoute.json()).toMatchObject({
      error: { message: expect.stringMatching(/needs the user API key/) },
    });
    expect((await dropAs('agent-9', clips[3]!.path, 'after-erase.flac')).adaptation).toBeUndefined();
  });
});
