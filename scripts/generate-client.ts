/**
 * Writes client/api-types.ts, the TypeScript types of the API contract, from the OpenAPI document the
 * API serves (generated from the zod schemas). `npm run generate:client` after changing a schema;
 * test/openapi-contract.test.ts regenerates it from the served document and fails if it differs.
 */
import { writeFile } from 'node:fs/promises';
import { openApiDocument } from '../lambdas/app/openapi.ts';
import { API_TYPES_FILE, generateApiTypes } from './api-types.ts';

await writeFile(API_TYPES_FILE, await generateApiTypes(openApiDocument));
console.log(`wrote ${API_TYPES_FILE}`);
