import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed, newestFirstQuery, PREDICTIONS_TABLE } from '../app/table-definition.ts';

/**
 * The model registry lives in the predictions table (one table to create, back up and grant), under its
 * own key prefix and its own listing partition of the shared `byCreatedAt` index, so predictions never
 * see it: prediction ids cannot contain `#`.
 */
const MODEL_KEY = (version: string) => `MODEL#${version}`;
const ACTIVE_POINTER_KEY = 'MODEL_ACTIVE';
export const MODEL_LIST_PARTITION = 'MODEL';

export type ModelSource = 'bundled' | 'trained';

/** Where trained packages live in the bucket (the training role writes, the inference role reads there). */
export const MODELS_PREFIX = 'models/';

/** The key prefix of a trained version's package: `models/<version>/`. */
export const modelPackagePrefix = (version: string): string => `${MODELS_PREFIX}${version}/`;

/** A registry `location`, `s3://<bucket>/<prefix>`. */
export const s3Location = (bucket: string, prefix: string): string => `s3://${bucket}/${prefix}`;

/**
 * A registry `location` → its bucket and key prefix (ending in `/`); undefined when it is not
 * `s3://<bucket>/<key>`.
 */
export function parseS3Location(location: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  return match ? { bucket: match[1]!, prefix: match[2]!.replace(/\/?$/, '/') } : undefined;
}

export interface ModelVersionRecord {
  version: string;
  source: ModelSource;
  sha256: string;
  /** `s3://bucket/models/<version>/` for trained models; absent for the bundled one (it ships in the asset). */
  location?: string;
  /** metadata.json's metrics, per evaluation split. */
  metrics: Record<string, unknown>;
  trainingJobId?: string;
  createdAt: string;
}

export interface ActivePointer {
  version: string;
  activatedAt: string;
  previousVersion?: string;
}

/** The registry item of a version, as stored (also written by the stack's deploy-time registration). */
export function modelItem(record: ModelVersionRecord): Record<string, unknown> {
  const { partitionKey, listIndex } = PREDICTIONS_TABLE;
  return {
    ...record,
    [partitionKey]: MODEL_KEY(record.version),
    [listIndex.partitionKey]: MODEL_LIST_PARTITION,
    [listIndex.sortKey]: `${record.createdAt}#${record.version}`,
  };
}

/** The active-pointer item naming `version` (with no previous version: the first activation). */
export function firstActivePointerItem(version: string, activatedAt: string): Record<string, unknown> {
  return { id: ACTIVE_POINTER_KEY, version, activatedAt };
}

/** The leading keys of the model versions' records (written only by a training job and the deploy). */
export const MODEL_VERSION_LEADING_KEYS = ['MODEL#*'];
/** The leading keys of every registry item, for IAM `dynamodb:LeadingKeys` conditions. */
export const REGISTRY_LEADING_KEYS = [...MODEL_VERSION_LEADING_KEYS, ACTIVE_POINTER_KEY];

export class ModelRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly config: { tableName: string },
  ) {}

  /** Idempotent: a version is immutable once registered (a retry of the same upload is not an error). */
  async register(record: ModelVersionRecord): Promise<void> {
    const { partitionKey } = PREDICTIONS_TABLE;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.config.tableName,
          Item: modelItem(record),
          ConditionExpression: `attribute_not_exists(${partitionKey}) OR sha256 = :sha`,
          ExpressionAttributeValues: { ':sha': record.sha256 },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) {
        throw new Error(`Model version ${record.version} is already registered with another sha256`);
      }
      throw error;
    }
  }

  async get(version: string): Promise<ModelVersionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.config.tableName, Key: { id: MODEL_KEY(version) } }),
    );
    return Item ? toRecord(Item) : undefined;
  }

  /** Newest first. The registry holds tens of versions, so one page of 100 is enough. */
  async list(): Promise<ModelVersionRecord[]> {
    const { Items = [] } = await this.client.send(
      new QueryCommand(newestFirstQuery(this.config.tableName, MODEL_LIST_PARTITION, 100)),
    );
    return Items.map(toRecord);
  }

  async getActive(): Promise<ActivePointer | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.config.tableName,
        Key: { id: ACTIVE_POINTER_KEY },
        ConsistentRead: true,
      }),
    );
    return Item
      ? { version: Item.version, activatedAt: Item.activatedAt, previousVersion: Item.previousVersion }
      : undefined;
  }

  /**
   * Points the registry at `version`. With `expectedCurrent`, only if the pointer still says that (so an
   * "if-better" decision made against one active model cannot overwrite a newer activation).
   */
  async activate(
    version: string,
    options: { expectedCurrent?: string | null; now?: Date } = {},
  ): Promise<ActivePointer> {
    const current = await this.getActive();
    const pointer: ActivePointer = {
      version,
      activatedAt: (options.now ?? new Date()).toISOString(),
      ...(current ? { previousVersion: current.version } : {}),
    };
    const expected = options.expectedCurrent;
    await this.client.send(
      new PutCommand({
        TableName: this.config.tableName,
        Item: { id: ACTIVE_POINTER_KEY, ...pointer },
        ...(expected === undefined
          ? {}
          : expected === null
            ? { ConditionExpression: 'attribute_not_exists(id)' }
            : {
                ConditionExpression: 'version = :expected',
                ExpressionAttributeValues: { ':expected': expected },
              }),
      }),
    );
    return pointer;
  }

  /**
   * The bundled model becomes the first version, and the active one when nothing is active yet. On AWS
   * the stack does this at deploy time (a custom resource), so serving needs no table write; locally
   * `npm start` does it before the handlers run.
   */
  async ensureBundled(record: Omit<ModelVersionRecord, 'source' | 'location'>): Promise<void> {
    const existing = await this.get(record.version);
    if (!existing) await this.register({ ...record, source: 'bundled' });
    try {
      await this.activate(record.version, { expectedCurrent: null });
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

function toRecord(item: Record<string, unknown>): ModelVersionRecord {
  const { version, source, sha256, location, metrics, trainingJobId, createdAt } =
    item as unknown as ModelVersionRecord;
  return {
    version,
    source,
    sha256,
    ...(location ? { location } : {}),
    metrics: metrics ?? {},
    ...(trainingJobId ? { trainingJobId } : {}),
    createdAt,
  };
}
