import { createSerClient, type SerClient } from '../../client/ser-client.ts';
import { messageWithCause } from '../../lambdas/app/domain-error.ts';
import { printable } from '../printable.ts';
import { sigV4Fetch } from './sigv4-fetch.ts';

/** What every `ser admin` command takes: where the API is and the admin credential. */
export interface AdminOptions {
  api?: string;
  /** The local stack's SER_ADMIN_KEY, sent as x-api-key; without it, SigV4 (API Gateway's IAM auth). */
  adminKey?: string;
  /** The API's region, for SigV4 (default: `apiRegion`). */
  region?: string;
}

/**
 * The region SigV4 signs for: the one asked for, else the one an `…execute-api.<region>.amazonaws.com` URL
 * names (signing for another is a 403 whatever AWS_REGION says), else the environment's, else us-east-1.
 */
export function apiRegion(api: string, asked?: string, env: NodeJS.ProcessEnv = process.env): string {
  const named = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(api).hostname)?.[1];
  return asked ?? named ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/** The API answered with an error, or could not be reached: that command's exit code 1. */
export class RequestFailed extends Error {
  override readonly name = 'RequestFailed';
}

/** The typed client with the admin credential: the key as x-api-key, else every request signed. */
export function adminClient(options: AdminOptions): SerClient {
  if (!options.api) throw new Error('ser admin needs --api <url> (or SER_API_URL)');
  // An empty key (SER_ADMIN_KEY= left exported) is none: on AWS it would be sent instead of a signature.
  return options.adminKey
    ? createSerClient({ baseUrl: options.api, apiKey: options.adminKey })
    : createSerClient({ baseUrl: options.api, fetch: sigV4Fetch(apiRegion(options.api, options.region)) });
}

type ErrorBody = { error?: { code: string; message: string } } | undefined;

/**
 * The answer's data (typed by the contract), or a RequestFailed naming the route, the HTTP status and the
 * API's error.
 */
export async function answerOf<T>(
  what: string,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (data !== undefined) return data;
  const body = error as ErrorBody;
  const detail = body?.error ? ` ${body.error.code}: ${body.error.message}` : '';
  throw new RequestFailed(`${what}: HTTP ${response.status}${detail}`);
}

/**
 * Runs a command's requests; a refusal or an unreachable API (or credentials SigV4 cannot find) is one
 * line on stderr and exit code 1, as a failed file is for the other commands.
 */
export async function reportingFailures(command: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    console.error(printable(`ser admin ${command}: ${messageWithCause(error)}`));
    return 1;
  }
}

/** One JSON object per line, as `ser upload` writes its rows. */
export const jsonLines = (items: readonly unknown[]): string =>
  items.map((item) => `${JSON.stringify(item)}\n`).join('');
