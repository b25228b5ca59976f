import { type CallbackUrlPolicy, isAllowedCallbackUrl } from './callback-url.ts';
import { messageWithCause } from './domain-error.ts';
import type { PredictionDetailType, PredictionEventDetail } from './prediction-events.ts';
import type { WebhookSecrets } from './webhook-secrets.ts';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook-signature.ts';

/**
 * A callback that could not be delivered. Thrown so that the invocation fails: the platform's retries
 * (Lambda's asynchronous ones on AWS, the local queue's locally) run, then the dead-letter queue keeps it.
 */
export class CallbackDeliveryError extends Error {
  override readonly name = 'CallbackDeliveryError';
}

export interface CallbackDeliveryDeps {
  secrets: WebhookSecrets;
  urlPolicy: CallbackUrlPolicy;
  /** Tries within one invocation, with exponential backoff between them (`CALLBACK_ATTEMPTS`, config.ts). */
  attempts: number;
  /** Wait before the second try; doubled for each further one (`CALLBACK_BACKOFF_MS`, config.ts). */
  backoffMs: number;
  /** A receiver that does not answer within this long counts as a failed try. @default 10 000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
  nowSec?: () => number;
}

/** What a callback receiver gets: the event's detail (without the callback target) and its type. */
export interface CallbackBody {
  eventId: string;
  detailType: PredictionDetailType;
  detail: Omit<PredictionEventDetail, 'callback'>;
}

export type DeliveryOutcome =
  | { delivered: false; reason: string }
  | { delivered: true; status: number; tries: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs a terminal prediction to the callback URL its upload named, signed with the API key's webhook
 * secret (`ser-signature: t=…,v1=…`, HMAC-SHA256 over `<t>.<body>`). A 2xx answer is delivery; anything
 * else is retried with backoff, and after the last try `CallbackDeliveryError` is thrown.
 */
export async function deliverCallback(
  deps: CallbackDeliveryDeps,
  detailType: PredictionDetailType,
  detail: PredictionEventDetail,
): Promise<DeliveryOutcome> {
  const { callback, ...rest } = detail;
  if (!callback) return { delivered: false, reason: 'no callback requested' };
  // Checked again here: a rule or a replayed message could carry a URL the API never accepted.
  if (!isAllowedCallbackUrl(callback.url, deps.urlPolicy)) {
    throw new CallbackDeliveryError(`Refusing callback URL of ${detail.id}: not an allowed URL`);
  }
  const secret = await deps.secrets.secretFor(callback.apiKeyId);
  if (!secret) {
    throw new CallbackDeliveryError(`No webhook secret for API key ${callback.apiKeyId ?? '(none)'}`);
  }
  const body = JSON.stringify({ eventId: detail.eventId, detailType, detail: rest } satisfies CallbackBody);
  const { attempts } = deps;
  const failures: string[] = [];
  for (let tryNumber = 1; tryNumber <= attempts; tryNumber++) {
    const failure = await postSigned(deps, callback.url, body, secret, detail.eventId);
    if (typeof failure === 'number') return { delivered: true, status: failure, tries: tryNumber };
    failures.push(failure);
    if (tryNumber < attempts) await sleep(deps.backoffMs * 2 ** (tryNumber - 1));
  }
  throw new CallbackDeliveryError(
    `Callback for ${detail.id} failed ${attempts} times: ${failures.join('; ')}`,
  );
}

/** One signed POST: the 2xx status, or why it failed. Each try is signed afresh (a new timestamp). */
async function postSigned(
  deps: CallbackDeliveryDeps,
  url: string,
  body: string,
  secret: string,
  eventId: string,
): Promise<number | string> {
  const timestamp = deps.nowSec?.() ?? Math.floor(Date.now() / 1000);
  try {
    const response = await (deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ser-callbacks/1',
        [SIGNATURE_HEADER]: signWebhook(secret, body, timestamp),
        [EVENT_ID_HEADER]: eventId,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
    await response.body?.cancel();
    return response.ok ? response.status : `HTTP ${response.status}`;
  } catch (error) {
    return describeFailure(error);
  }
}

/** What a receiver's operator can act on: the error and its cause (ECONNREFUSED, TLS), not "fetch failed". */
const describeFailure = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${messageWithCause(error)}` : String(error);
