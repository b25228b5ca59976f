import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictionStatusValues } from '../client/api-types.ts';
import { createSerClient, isTerminal, type SerClient } from '../client/ser-client.ts';
import {
  CreatedUploadSchema,
  isTerminalStatus,
  PredictionPageSchema,
  PredictionSchema,
  TERMINAL_PREDICTION_STATUSES,
} from '../lambdas/app/api-schemas.ts';
import { API_ROUTES } from '../lambdas/app/routes.ts';
import { API_TYPES_FILE, generateApiTypes } from '../scripts/api-types.ts';
import { tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';
import { waitForPrediction } from './helpers/local-stack-process.ts';

/** The validator's verdict: the error messages, none when the document is valid. */
async function validationErrors(document: unknown): Promise<string[]> {
  try {
    // The parser dereferences in place: it gets a copy.
    await SwaggerParser.validate(structuredClone(document) as OpenAPI.Document);
    return [];
  } catch (error) {
    const details = (error as { details?: { message: string }[] }).details;
    return details?.map((d) => d.message) ?? [(error as Error).message];
  }
}

describe('the OpenAPI contract, as served by the local stack', () => {
  let test: TestStack;
  let served: { openapi: string; paths: Record<string, Record<string, unknown>> };
  let client: SerClient;

  beforeAll(async () => {
    test = await startTestStack({ bucket: 'ser-contract', apiKey: 'contract-key' });
    const response = await fetch(`${test.stack.apiUrl}/openapi.json`);
    expect(response.status).toBe(200);
    served = (await response.json()) as typeof served;
    client = createSerClient({ baseUrl: test.stack.apiUrl, apiKey: 'contract-key' });
  });

  afterAll(async () => {
    await test?.close();
  });

  it('passes a standard validator (swagger-parser), which does reject a broken document', async () => {
    // Prepare
    const broken = structuredClone(served);
    (broken.paths['/health']!.get as { responses: unknown }).responses = 'none';

    // Act
    const errors = await validationErrors(served);
    const brokenErrors = await validationErrors(broken);

    // Assess
    expect(served.openapi).toBe('3.1.0');
    expect(errors).toEqual([]);
    expect(brokenErrors.length).toBeGreaterThan(0);
  });

  it('describes exactly the routes the API serves', () => {
    const documented = Object.entries(served.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.resource}`).sort());
  });

  it("describes an API key's speaker erase without the drop folder's clips, and says the listing is not scoped", () => {
    const paths = served.paths as Record<string, { delete?: { description?: string } }>;
    const user = paths['/speakers/{id}']?.delete?.description ?? '';
    const dropFolder = paths['/drop-folder/speakers/{id}']?.delete?.description ?? '';
    // An API key's speaker has only uploads: retried drop-folder events are the admin route's.
    expect(user).not.toMatch(/drop-folder/i);
    expect(user).toMatch(/unfiltered GET \/predictions lists the records of every key/);
    expect(dropFolder).toMatch(/retried or replayed only afterwards/);
  });

  it('generates the committed client types (run `npm run generate:client` after changing a schema)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    expect(await generateApiTypes(served)).toBe(committed);
  });

  it("names the terminal statuses (TerminalPredictionStatus), and the typed client's isTerminal reads them from there", () => {
    const components = (served as unknown as { components: { schemas: Record<string, { enum?: string[] }> } })
      .components;

    expect(components.schemas.TerminalPredictionStatus?.enum).toEqual([...TERMINAL_PREDICTION_STATUSES]);
    expect(predictionStatusValues.filter((status) => isTerminal({ status }))).toEqual(
      predictionStatusValues.filter(isTerminalStatus),
    );
  });

  it('serves what it declares: the typed client uploads a clip and reads its prediction', async () => {
    // Prepare
    const clip = tessClip('angry');

    // Act
    const health = await client.GET('/health');
    const created = await client.POST('/uploads', {
      body: { fileName: clip.fileName, sizeBytes: clip.bytes.length },
    });
    const upload = CreatedUploadSchema.parse(created.data);
    const put = await fetch(upload.upload.url, {
      method: 'PUT',
      headers: upload.upload.headers,
      body: clip.bytes,
    });
    await waitForPrediction(test.stack, upload.id);
    const got = await client.GET('/predictions/{id}', { params: { path: { id: upload.id } } });
    const page = await client.GET('/predictions', { params: { query: { limit: 5 } } });
    const refused = await client.POST('/uploads', { body: { fileName: 'notes.txt' } });

    // Assess
    expect(health.data).toEqual({ status: 'ok', modelVersion: test.stack.modelVersion });
    expect(put.status).toBe(200);
    const prediction = PredictionSchema.parse(got.data);
    expect(isTerminal(prediction)).toBe(true);
    expect(prediction).toMatchObject({ id: upload.id, status: 'SUCCEEDED', emotion: expect.any(String) });
    expect(PredictionPageSchema.parse(page.data).items.map((p) => p.id)).toContain(upload.id);
    expect(refused.response.status).toBe(400);
    expect(refused.error?.error.code).toBe('UNSUPPORTED_FORMAT');
  });
});
