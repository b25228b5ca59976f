import createClient, { type Client } from 'openapi-fetch';
import { type components, type paths, terminalPredictionStatusValues } from './api-types.ts';

export type SerClient = Client<paths>;
export type Prediction = components['schemas']['Prediction'];
export type CreatedUpload = components['schemas']['CreatedUpload'];
export type CreateUploadRequest = components['schemas']['CreateUploadRequest'];
export type ApiError = components['schemas']['Error'];
export type PredictionPage = components['schemas']['PredictionPage'];
export type SpeakerErased = components['schemas']['SpeakerErased'];
export type TrainingJob = components['schemas']['TrainingJob'];

export interface SerClientOptions {
  /** The API's base URL: `http://127.0.0.1:3000`, or the stack's `ApiUrl` output. */
  baseUrl: string;
  /** Sent as x-api-key; none for an admin route on AWS, whose `fetch` signs the request (SigV4) instead. */
  apiKey?: string;
  /** Default: the global fetch. openapi-fetch calls it with a Request. */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A typed client for the SER API: openapi-fetch over the types generated from the OpenAPI document
 * (`client/api-types.ts`), so a request or a response field the contract lacks does not compile.
 */
export function createSerClient({ baseUrl, apiKey, fetch: fetchImpl }: SerClientOptions): SerClient {
  return createClient<paths>({
    // openapi-fetch joins baseUrl and the path as strings: a trailing slash would double up.
    baseUrl: baseUrl.replace(/\/+$/, ''),
    ...(apiKey === undefined ? {} : { headers: { 'x-api-key': apiKey } }),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** The prediction changes no more: its status is one the contract names `TerminalPredictionStatus`. */
export const isTerminal = (prediction: Pick<Prediction, 'status'>): boolean =>
  (terminalPredictionStatusValues as readonly string[]).includes(prediction.status);
