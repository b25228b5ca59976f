import SwaggerParser from '@apidevtools/swagger-parser';
import { openApiDocument } from './lambdas/app/openapi.ts';
try {
  await SwaggerParser.validate(structuredClone(openApiDocument) as never);
  console.log('valid');
} catch (e) {
  const details = (e as { details?: unknown[] }).details;
  console.log('errors:', details?.length, (e as Error).message.slice(0, 1500));
}
console.log(JSON.stringify(openApiDocument).length, Object.keys(openApiDocument.components?.schemas ?? {}));
console.log(JSON.stringify(openApiDocument.paths?.['/predictions'], null, 1).slice(0, 1500));
