import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import { DomainError, invalid, invalidRequest, notFound } from '../app/domain-error.ts';
import { CreateTrainingJobSchema } from '../app/training-schemas.ts';
import { ModelVersionSchema } from '../core/model/metadata.ts';
import { type DatasetPrefixes, emptyDatasetMessage } from './dataset-prefix.ts';
import { JobIdSchema, type TrainingJob, type TrainingJobRepository } from './job-repository.ts';
import { DEFAULT_TRAINING_MAX_RUN_MINUTES, type TrainingLauncher } from './launcher.ts';
import type { ModelPackages } from './model-packages.ts';
import { canServe, type ModelRegistry, type ModelVersionRecord } from './model-registry.ts';

const ACTIVE_CACHE_MS = 2_000;

export interface TrainingServiceDeps {
  jobs: TrainingJobRepository;
  registry: ModelRegistry;
  launcher: TrainingLauncher;
  /** Looked at before anything is launched: a job on an empty prefix is refused, not started. */
  datasets: DatasetPrefixes;
  /**
   * Looked at before a version is activated: one whose package's objects are gone, or are not the
   * registered version's package, is refused.
   */
  packages: ModelPackages;
  /** The version of the model shipped with this deployment (MODEL_VERSION): the one that may lack a package. */
  bundledVersion: string;
  /**
   * The training machine's hard limit: a job that has not ended by then is FAILED.
   * @default DEFAULT_TRAINING_MAX_RUN_MINUTES
   */
  maxRunMinutes?: number;
  now?: () => Date;
  newId?: () => string;
}

export type ModelListEntry = ModelVersionRecord & { active: boolean };

/**
 * A QUEUED job; its deadline is the training machine's hard limit from now, and it names where that
 * machine's own log will be (when the launcher keeps one).
 */
function queuedJob(
  id: string,
  request: z.output<typeof CreateTrainingJobSchema>,
  at: Date,
  deps: Pick<TrainingServiceDeps, 'launcher' | 'maxRunMinutes'>,
): TrainingJob {
  const createdAt = at.toISOString();
  const maxRunMinutes = deps.maxRunMinutes ?? DEFAULT_TRAINING_MAX_RUN_MINUTES;
  const deadline = new Date(at.getTime() + maxRunMinutes * 60_000).toISOString();
  const machineLog = deps.launcher.machineLog?.(id);
  return {
    id,
    status: 'QUEUED',
    ...request,
    deadline,
    ...(machineLog ? { machineLog } : {}),
    createdAt,
    updatedAt: createdAt,
  };
}

/**
 * Refuses a dataset prefix that holds nothing (and that the launcher will not fill) before any machine
 * starts: on AWS an instance would boot and install the project before the job found out.
 */
async function assertDatasetPresent(deps: TrainingServiceDeps, prefix: string): Promise<void> {
  if (await deps.datasets.hasObjects(prefix)) return;
  if (await deps.launcher.seeds?.(prefix)) return;
  const hint = deps.launcher.emptyDatasetHint?.(prefix);
  throw invalid('DATASET_EMPTY', emptyDatasetMessage(deps.datasets, prefix, hint));
}

/** The training side cannot run jobs at all, or could not start this one's machine (503 at the edge). */
const trainingUnavailable = (message: string, options?: { cause?: unknown }) =>
  new DomainError('unavailable', 'TRAINING_UNAVAILABLE', message, options);

/** No launcher, no job: refused before anything is written, rather than a job record FAILED at once. */
function assertLauncherAvailable(launcher: TrainingLauncher): void {
  if (launcher.available?.() === false)
    throw trainingUnavailable('No training machine can be started: this deployment has no training launcher');
}

/** Starts the job's machine; when that fails no machine will ever pick the job up: it ends now, unlocked. */
async function launchOrEnd(deps: TrainingServiceDeps, id: string): Promise<void> {
  try {
    await deps.launcher.launch(id);
  } catch (cause) {
    await deps.jobs.recordFailure(
      id,
      `Could not start training: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    await deps.jobs.releaseLock(id);
    throw trainingUnavailable('Could not start the training machine', { cause });
  }
}

/** Activation refused: the inference function could not load it, and the registry would name a model that does not answer. */
const cannotServe = (version: string, bundledVersion: string) =>
  new DomainError(
    'conflict',
    'MODEL_UNAVAILABLE',
    `Model ${version} has no package in the bucket (it was registered by a deployment from before bundled ` +
      `packages were stored there) and is not the bundled model of this deployment (${bundledVersion}): ` +
      `it cannot serve. Deploy ${version} once more to store it.`,
  );

/**
 * Refuses to activate a version the inference function could not load: no package in the bucket and not
 * the bundled model, or a package whose objects are gone or are not the registered version's. The bundled
 * version serves from the function's own asset, whatever the bucket holds.
 */
async function assertCanServe(deps: TrainingServiceDeps, model: ModelVersionRecord): Promise<void> {
  if (!canServe(model, deps.bundledVersion)) throw cannotServe(model.version, deps.bundledVersion);
  if (model.version === deps.bundledVersion || !model.location) return;
  const problems = await deps.packages.problems(model);
  if (problems.length === 0) return;
  throw new DomainError(
    'conflict',
    'MODEL_UNAVAILABLE',
    `Model ${model.version} cannot serve: ${problems.join('; ')}. Put its package back at ` +
      `${model.location} (a bundled version: deploy it once more), or activate another version.`,
  );
}

/** The registry's active version, read at most every ACTIVE_CACHE_MS. */
function cachedActiveVersion(registry: ModelRegistry, now: () => Date) {
  let cache: { readAt: number; version: string | undefined } | undefined;
  return {
    async get(): Promise<string | undefined> {
      const at = now().getTime();
      if (!cache || at - cache.readAt >= ACTIVE_CACHE_MS) {
        cache = { readAt: at, version: (await registry.getActive())?.version };
      }
      return cache.version;
    },
    forget(): void {
      cache = undefined;
    },
  };
}

/** The training-jobs and models API, over the job repository, the registry and a launcher. */
export function createTrainingService(deps: TrainingServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const activeVersion = cachedActiveVersion(deps.registry, now);

  return {
    async createJob(body: unknown): Promise<{ id: string; status: 'QUEUED' }> {
      const parsed = CreateTrainingJobSchema.safeParse(body ?? {});
      if (!parsed.success) {
        throw invalidRequest(parsed.error);
      }
      await assertDatasetPresent(deps, parsed.data.dataset);
      assertLauncherAvailable(deps.launcher);
      const id = newId();
      await deps.jobs.acquireLock(id); // ConcurrentJobError: 409 JOB_RUNNING
      await deps.jobs.create(queuedJob(id, parsed.data, now(), deps));
      await launchOrEnd(deps, id);
      return { id, status: 'QUEUED' };
    },

    async getJob(id: string | undefined): Promise<TrainingJob> {
      const parsed = JobIdSchema.safeParse(id);
      const job = parsed.success ? await deps.jobs.get(parsed.data) : undefined;
      if (!job) throw notFound(`No training job with id ${id ?? ''}`);
      return job;
    },

    listJobs: async () => ({ items: await deps.jobs.list() }),

    async listModels(): Promise<{ active: string | null; items: ModelListEntry[] }> {
      const [items, active] = await Promise.all([deps.registry.list(), deps.registry.getActive()]);
      return {
        active: active?.version ?? null,
        items: items.map((m) => ({ ...m, active: m.version === active?.version })),
      };
    },

    async activateModel(version: string | undefined) {
      const parsed = ModelVersionSchema.safeParse(version);
      const model = parsed.success ? await deps.registry.get(parsed.data) : undefined;
      if (!model) throw notFound(`No model version ${version ?? ''}`);
      await assertCanServe(deps, model);
      const pointer = await deps.registry.activate(model.version, { now: now() });
      activeVersion.forget();
      return {
        active: pointer.version,
        previousVersion: pointer.previousVersion ?? null,
        activatedAt: pointer.activatedAt,
      };
    },

    /** For GET /health, which needs no key: cached briefly so unauthenticated calls cannot hammer the table. */
    activeModelVersion: (): Promise<string | undefined> => activeVersion.get(),
  };
}

export type TrainingService = ReturnType<typeof createTrainingService>;
