import { createHash } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { addClip, type SpeakerStatistics } from '../core/features/speaker-normalization.ts';
import { isConditionalCheckFailed } from './table-definition.ts';

/**
 * A speaker context: who owns it (the API key, or the drop folder) and the caller's opaque id. Contexts of
 * different owners never meet, even with the same `speakerId`.
 */
export interface SpeakerRef {
  scope: string;
  speakerId: string;
}

/** The running statistics as stored, with the version the next conditional write must find. */
export interface StoredSpeaker {
  statistics: SpeakerStatistics;
  version: number;
}

/** A speaker's statistics and its erasure marker (as stored: prediction-repository.ts judges it), read together. */
export interface SpeakerWithMarker {
  stored: StoredSpeaker | undefined;
  marker: Record<string, unknown> | undefined;
}

export interface SpeakerRepositoryOptions {
  tableName: string;
  /** Statistics of a speaker not heard from for this many days are deleted (DynamoDB TTL). */
  ttlDays: number;
  now?: () => Date;
}

/**
 * Attempts of the read–update–conditional-write loop before giving up: each failed attempt means another
 * clip of the same speaker committed, so this bounds the clips of one speaker in flight at once (the
 * inference function's reserved concurrency is 10 by default).
 */
const MAX_UPDATE_ATTEMPTS = 20;
/** Random wait before a retry, up to this many ms per attempt so far: contenders spread out. */
const RETRY_JITTER_MS = 10;

const SPEAKER_KEY_PREFIX = 'SPEAKER#';
/** The speaker items' keys, as IAM's dynamodb:LeadingKeys condition matches them. */
export const SPEAKER_LEADING_KEYS = [`${SPEAKER_KEY_PREFIX}*`];

/**
 * The key of a speaker's item in the predictions table. `#` cannot occur in a prediction id (the API
 * accepts `[\w-]` only), and the item has no listing attributes, so it is reachable neither through
 * `GET /predictions/{id}` nor the listing. The id is hashed: no caller-chosen text in a key.
 */
export const speakerItemId = (ref: SpeakerRef): string => `${SPEAKER_KEY_PREFIX}${speakerDigest(ref)}`;

const speakerDigest = (ref: SpeakerRef): string =>
  createHash('sha256').update(`${ref.scope}\n${ref.speakerId}`).digest('hex').slice(0, 40);

const ERASURE_KEY_PREFIX = 'ERASED#';

/**
 * The key of a speaker's erasure marker (when it was last erased: prediction-repository.ts), apart from
 * its statistics item, which a clip after the erasure creates again. Hashed like `speakerItemId`.
 */
export const erasureMarkerId = (ref: SpeakerRef): string => `${ERASURE_KEY_PREFIX}${speakerDigest(ref)}`;

/**
 * Per-speaker running statistics (count, mean, M2 of each adapted channel's per-clip mean) next to the
 * predictions: aggregates only, never audio or per-clip values. Updates are Welford steps committed with
 * a conditional write on a version number, so concurrent clips of one speaker never lose an update.
 */
export class SpeakerRepository {
  readonly #doc: DynamoDBDocumentClient;
  readonly #options: SpeakerRepositoryOptions;

  constructor(doc: DynamoDBDocumentClient, options: SpeakerRepositoryOptions) {
    this.#doc = doc;
    this.#options = options;
  }

  #nowSec(): number {
    return Math.floor((this.#options.now?.() ?? new Date()).getTime() / 1000);
  }

  /**
   * The speaker's statistics for `adaptationKey` (the model's adapted channels and population), or
   * `undefined` (never heard, erased, expired, or gathered for another adaptation).
   */
  async get(ref: SpeakerRef, adaptationKey: string): Promise<StoredSpeaker | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#options.tableName,
        Key: { id: speakerItemId(ref) },
        ConsistentRead: true,
      }),
    );
    return this.#stored(Item, adaptationKey);
  }

  /**
   * `get`, and the speaker's erasure marker, in one consistent BatchGetItem: a clip that adapts asks
   * both after its claim, and pays one request for them, not two. Keys DynamoDB leaves unprocessed
   * (throttling) are asked again.
   */
  async getWithMarker(ref: SpeakerRef, adaptationKey: string): Promise<SpeakerWithMarker> {
    const table = this.#options.tableName;
    let keys: Record<string, unknown>[] = [{ id: speakerItemId(ref) }, { id: erasureMarkerId(ref) }];
    const items: Record<string, unknown>[] = [];
    while (keys.length > 0) {
      const { Responses, UnprocessedKeys } = await this.#doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
      );
      items.push(...(Responses?.[table] ?? []));
      keys = UnprocessedKeys?.[table]?.Keys ?? [];
    }
    const item = (id: string) => items.find((i) => i.id === id);
    return {
      stored: this.#stored(item(speakerItemId(ref)), adaptationKey),
      marker: item(erasureMarkerId(ref)),
    };
  }

  #stored(Item: Record<string, unknown> | undefined, adaptationKey: string): StoredSpeaker | undefined {
    if (!Item) return undefined;
    const version = Item.version as number;
    // TTL deletes lazily; an expired or foreign item counts as empty but keeps its version for the write.
    if ((Item.expiresAt as number) <= this.#nowSec() || Item.adaptationKey !== adaptationKey) {
      return { statistics: { count: 0, mean: [], m2: [] }, version };
    }
    return {
      statistics: { count: Item.count as number, mean: Item.mean as number[], m2: Item.m2 as number[] },
      version,
    };
  }

  /**
   * Adds one clip (its adapted channels' means) to the speaker's statistics. `known` is what the caller
   * read before predicting (saves a read); on a concurrent update the item is read again and the step
   * redone. Returns the new clip count.
   */
  async addClip(
    ref: SpeakerRef,
    adaptationKey: string,
    clip: readonly number[],
    known?: StoredSpeaker,
  ): Promise<number> {
    let current = known;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const base = current?.statistics.count ? current.statistics : undefined;
      const statistics = addClip(base, clip);
      if (await this.#write(ref, adaptationKey, statistics, current?.version)) return statistics.count;
      await setTimeout(Math.random() * RETRY_JITTER_MS * (attempt + 1));
      current = await this.get(ref, adaptationKey);
    }
    throw new Error(`Speaker statistics: ${MAX_UPDATE_ATTEMPTS} concurrent updates in a row, giving up`);
  }

  /** One conditional write: only if the item is still at `version` (or still absent). */
  async #write(
    ref: SpeakerRef,
    adaptationKey: string,
    statistics: SpeakerStatistics,
    version: number | undefined,
  ): Promise<boolean> {
    try {
      // UpdateItem, not PutItem: the inference function's role may only update items.
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { id: speakerItemId(ref) },
          UpdateExpression:
            'SET adaptationKey = :key, #count = :count, #mean = :mean, m2 = :m2, version = :next, expiresAt = :expiresAt',
          ConditionExpression: version === undefined ? 'attribute_not_exists(id)' : 'version = :version',
          ExpressionAttributeNames: { '#count': 'count', '#mean': 'mean' },
          ExpressionAttributeValues: {
            ':key': adaptationKey,
            ':count': statistics.count,
            ':mean': statistics.mean,
            ':m2': statistics.m2,
            ':next': (version ?? 0) + 1,
            ':expiresAt': this.#nowSec() + this.#options.ttlDays * 86_400,
            ...(version === undefined ? {} : { ':version': version }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** Erases a speaker's statistics (`DELETE /speakers/{id}`); whether there was anything to erase. */
  async delete(ref: SpeakerRef): Promise<boolean> {
    const { Attributes } = await this.#doc.send(
      new DeleteCommand({
        TableName: this.#options.tableName,
        Key: { id: speakerItemId(ref) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined && (Attributes.expiresAt as number) > this.#nowSec();
  }
}
