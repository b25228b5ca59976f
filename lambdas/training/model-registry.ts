import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type * as z from 'zod';
import { isConditionalCheckFailed, newestFirstQuery, PREDICTIONS_TABLE } from '../app/table-definition.ts';
import type { ModelSourceSchema } from '../app/training-schemas.ts';
import { type ActivationDecision, decideBundledActivation } from './activation-policy.ts';

/**
 * The model registry lives in the predictions table (one table to create, back up and grant), under its
 * own key prefix and its own listing partition of the shared `byCreatedAt` index, so predictions never
 * see it: prediction ids cannot contain `#`.
 */
const MODEL_KEY = (version: string) => `MODEL#${version}`;
export const ACTIVE_POINTER_KEY = 'MODEL_ACTIVE';
export const MODEL_LIST_PARTITION = 'MODEL';

export type ModelSource = z.infer<typeof ModelSourceSchema>;

/**
 * Where model packages live in the bucket, trained and bundled alike (the training role and the deploy-time
 * registration write, the inference role reads there).
 */
export const MODELS_PREFIX = 'models/';

/** The key prefix of a version's package: `models/<version>/`. */
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
  /**
   * `s3://bucket/models/<version>/`, where its package is. Absent only for bundled versions registered by
   * deployments from before bundled packages were stored in the bucket: those can serve only where they
   * are the bundled model of the running code (`canServe`).
   */
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

/**
 * A version already registered with another package. A version names one package for good (predictions
 * record it as the model that made them), so this is never resolved by overwriting either.
 */
export class ModelVersionConflictError extends Error {
  override readonly name = 'ModelVersionConflictError';

  /** `difference`: what differs, after "already registered with". */
  constructor(
    readonly version: string,
    difference: string,
  ) {
    super(
      `Model version ${version} is already registered with ${difference}. A version names one package ` +
        'for good: give this package a version of its own (metadata.json "version").',
    );
  }

  /** Another ONNX. */
  static ofSha256(version: string, registered: string, packaged: string): ModelVersionConflictError {
    return new ModelVersionConflictError(
      version,
      `another sha256: the registry has ${registered}, this package ${packaged}`,
    );
  }

  /** The same ONNX with another metadata.json (a recalibration, say): another package all the same. */
  static ofMetadata(version: string, storedAt: string): ModelVersionConflictError {
    return new ModelVersionConflictError(
      version,
      `another metadata.json: ${storedAt} is not this package's (the ONNX is the same; its calibration, ` +
        'labels or settings differ)',
    );
  }
}

/**
 * Whether a registered version can serve where `bundledVersion` is the model shipped with the code: its
 * package is in the bucket, or it is that bundled model (a deployment refuses a version registered with
 * another sha256, so the same version is the same package). The API refuses to activate any other; the
 * inference function, which holds the bundled model, also compares its sha256.
 */
export const canServe = (record: ModelVersionRecord, bundledVersion: string): boolean =>
  record.location !== undefined || record.version === bundledVersion;

/**
 * How the package whose metadata (read at `source`) says `stored` differs from the registry's record of
 * its version; empty when it is the registered package. The sha256 is its ONNX's, checked against the
 * ONNX when it loads; and predictions name the version their metadata says, which must be the one the
 * registry serves. The API looks before an activation (`model-packages.ts`), the inference function when
 * it loads the package (`active-model.ts`).
 */
export function packageMismatches(
  record: Pick<ModelVersionRecord, 'version' | 'sha256'>,
  stored: { version: string; sha256: string },
  source: string,
): string[] {
  const mismatches: string[] = [];
  if (stored.sha256 !== record.sha256)
    mismatches.push(`${source}: sha256 ${stored.sha256} is not the registered ${record.sha256}`);
  if (stored.version !== record.version)
    mismatches.push(`${source} is the package of version ${stored.version}, not ${record.version}`);
  return mismatches;
}

/** The registry item of a version, as stored. */
function modelItem(record: ModelVersionRecord): Record<string, unknown> {
  const { partitionKey, listIndex } = PREDICTIONS_TABLE;
  return {
    ...record,
    [partitionKey]: MODEL_KEY(record.version),
    [listIndex.partitionKey]: MODEL_LIST_PARTITION,
    [listIndex.sortKey]: `${record.createdAt}#${record.version}`,
  };
}

/** A deployment's bundled package as ensureBundled stores it, kept apart from S3 here. */
export interface BundledPackage {
  /**
   * Whether every object of this package is at its location; a ModelVersionConflictError if the stored
   * metadata.json is another.
   */
  isStored(): Promise<boolean>;
  /** Writes the package's objects to its location (metadata.json last). */
  store(): Promise<void>;
}

/** What a deployment did with the active pointer, why, and which version is active now. */
export type BundledActivation = ActivationDecision & { active: string };

/** The leading keys of the model versions' records (written only by a training job and the deploy). */
export const MODEL_VERSION_LEADING_KEYS = ['MODEL#*'];
/** The leading keys of every registry item, for IAM `dynamodb:LeadingKeys` conditions. */
export const REGISTRY_LEADING_KEYS = [...MODEL_VERSION_LEADING_KEYS, ACTIVE_POINTER_KEY];

export class ModelRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly config: { tableName: string },
  ) {}

  /**
   * Idempotent: a version is immutable once registered (a retry of the same upload is not an error); the
   * same version with another sha256 is a ModelVersionConflictError naming both.
   */
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
      if (!isConditionalCheckFailed(error)) throw error;
      const registered = await this.get(record.version);
      throw ModelVersionConflictError.ofSha256(record.version, registered?.sha256 ?? '?', record.sha256);
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
   * Deploy time (the stack's custom resource; `npm start` locally): the bundled package is stored
   * (`pkg.store`, to `location`) and registered there, then `decideBundledActivation` says whether it
   * becomes active, from `previousVersion`, the bundled version of the deployment before. A version
   * registered with another sha256 is refused before anything is written, so the registered package stays
   * whole; so is one whose stored metadata.json differs (`pkg.isStored` throws). The same package again
   * changes nothing, but is stored again if objects of it went missing from the bucket; a version
   * registered without a location by an older deployment gets this one.
   */
  async ensureBundled(
    record: Omit<ModelVersionRecord, 'source' | 'location'> & { location: string },
    pkg: BundledPackage,
    previousVersion: string | undefined,
  ): Promise<BundledActivation> {
    const existing = await this.get(record.version);
    if (existing && existing.sha256 !== record.sha256)
      throw ModelVersionConflictError.ofSha256(record.version, existing.sha256, record.sha256);
    if (existing?.location) {
      // Registered with its package (trained, or stored by an earlier deployment): restore what is missing.
      if (!(await pkg.isStored())) await pkg.store();
    } else {
      await pkg.store();
      await this.register({
        ...(existing ?? record),
        source: existing?.source ?? 'bundled',
        location: record.location,
      });
    }
    return this.activateBundled(record.version, previousVersion);
  }

  private async activateBundled(
    version: string,
    previousVersion: string | undefined,
  ): Promise<BundledActivation> {
    const pointer = await this.getActive();
    const active = pointer && pointer.version !== version ? await this.get(pointer.version) : undefined;
    const decision = decideBundledActivation({ version, previousVersion, pointer: pointer?.version, active });
    if (!decision.activate) return { ...decision, active: pointer?.version ?? version };
    try {
      await this.activate(version, { expectedCurrent: pointer?.version ?? null });
      return { ...decision, active: version };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const now = await this.getActive();
      return {
        activate: false,
        reason: `${now?.version} was activated meanwhile: it stays`,
        active: now?.version ?? version,
      };
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
