import * as z from 'zod';
import { DATASETS_ROOT, DEFAULT_DATASET } from './object-keys.ts';

/**
 * The training-jobs and models routes' wire shapes, as api-schemas.ts is the prediction side's: the
 * request schema validates POST /training-jobs (lambdas/training/job-service.ts), the response schemas
 * type the routes in http-api.ts (what the service returns must fit them), and openapi-training.ts
 * describes the routes with them.
 */

/** When a finished job's model goes live; the training side's `ActivationMode` is this type. */
export const ActivationModeSchema = z.enum(['if-better', 'always', 'never']);

/** A training job's states; the job repository's `JobStatus` is this type. */
export const JobStatusSchema = z.enum(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED']);
/** The statuses a job ends in: a job in one changes no more (the repository's guards, a poll's stop). */
export const TERMINAL_JOB_STATUSES = JobStatusSchema.extract(['SUCCEEDED', 'FAILED']).options;
export const isTerminalJobStatus = (status: string): status is (typeof TERMINAL_JOB_STATUSES)[number] =>
  (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);

const DATASET_PREFIX = new RegExp(`^${DATASETS_ROOT}([\\w.-]+/)*$`);

/** Strict, as POST /uploads: a misspelt option is a 400, not a silently default training. */
export const CreateTrainingJobSchema = z
  .object({
    dataset: z
      .string()
      .max(512)
      .regex(DATASET_PREFIX, 'a prefix under datasets/ ending in "/", e.g. datasets/tess/ or datasets/')
      .refine((prefix) => !prefix.split('/').some((s) => s === '.' || s === '..'), 'no "." or ".." segments')
      .default(DEFAULT_DATASET)
      .meta({
        description:
          'Prefix under datasets/ holding TESS, RAVDESS, EMO-DB or CREMA-D clips (by their file names) and/or ' +
          'folders with a labels.csv (path,emotion[,speaker]); several corpora may sit side by side',
      }),
    epochs: z.number().int().min(1).max(200).default(30),
    augment: z.boolean().default(false).meta({
      description:
        "true: the shipped recipe's copies of every training clip (8 speaker-like and 2 channel-degraded; 4 and 1 of a TESS clip)",
    }),
    activate: ActivationModeSchema.default('if-better').meta({
      description:
        'if-better: only when its macro-F1 beats the active model on the same held-out clips (both scored by the deployed predictor)',
    }),
  })
  .strict();

/** One model's score on the comparison clips, measured through the deployed predictor. */
export const ModelScoreSchema = z.object({ version: z.string(), macroF1: z.number(), accuracy: z.number() });

/**
 * Candidate and active model scored on the same clips: the candidate's own held-out test clips (whole
 * speakers when the dataset has enough of them), minus any the active model may have trained on. What
 * "if-better" decides on; the training side's `ModelComparison` is this type.
 */
export const ModelComparisonSchema = z
  .object({
    /** Which of the candidate's test sets (splits.json) the clips come from. */
    testSet: z.string(),
    /** True when the clips' speakers were held out whole from the candidate's training. */
    speakerIndependent: z.boolean(),
    clips: z.number().int(),
    /** Candidate test clips left out because the active model trained (or validated) on them. */
    excludedSeenByActive: z.number().int(),
    candidate: ModelScoreSchema,
    active: ModelScoreSchema.optional(),
    /** Why the active model could not be scored (then "if-better" does not activate). */
    activeError: z.string().optional(),
  })
  .meta({
    id: 'ModelComparison',
    description: "Candidate and active model scored on the same clips of the candidate's test split",
  });
/** What the job found under its dataset prefix, and what it could not use (lists capped, counts whole). */
export const DatasetSummarySchema = z
  .object({
    corpora: z.array(z.string()),
    clips: z.number().int(),
    speakers: z.number().int(),
    /** Speakers held out whole from training: the speaker-independent test clips. */
    heldOutSpeakers: z.array(z.string()),
    counts: z.object({
      unknownLabels: z.number().int(),
      invalidRows: z.number().int(),
      unreadable: z.number().int(),
      unrecognised: z.number().int(),
    }),
    unknownLabels: z.array(z.object({ path: z.string(), label: z.string() })),
    invalidRows: z.array(z.object({ row: z.number().int(), path: z.string(), reason: z.string() })),
    unreadable: z.array(z.object({ path: z.string(), error: z.string() })),
    unrecognised: z.array(z.string()),
    skipped: z.record(z.string(), z.number()),
  })
  .meta({ id: 'DatasetSummary', description: 'What the job found and could not use (lists capped at 50)' });

export const QueuedTrainingJobSchema = z
  .object({ id: z.string(), status: z.literal('QUEUED') })
  .meta({ id: 'QueuedTrainingJob' });

export const TrainingProgressSchema = z.object({
  /** 0 until the first epoch has ended: the dataset is fetched, read and split first. */
  epoch: z.number().int(),
  epochs: z.number().int(),
  // Optional: nothing is measured before the first epoch (older records hold 0 at epoch 0 instead).
  valAccuracy: z.number().optional().meta({
    description: "The last epoch's validation accuracy; absent before the first epoch has ended",
  }),
  /** Ensemble member being trained (1-based) and how many there are. */
  member: z.number().int().optional(),
  members: z.number().int().optional(),
});

export type TrainingProgress = z.infer<typeof TrainingProgressSchema>;

/**
 * The validation accuracy a progress record has measured, or undefined: before the first epoch there is
 * none (a record written before it was optional holds 0 there, which was never measured).
 */
export const measuredValAccuracy = (progress: TrainingProgress | undefined): number | undefined =>
  progress && progress.epoch >= 1 ? progress.valAccuracy : undefined;

/** A training job as the job repository stores it and GET /training-jobs/{id} answers it. */
export const TrainingJobSchema = z
  .object({
    id: z.string(),
    status: JobStatusSchema,
    dataset: z.string(),
    epochs: z.number().int(),
    augment: z.boolean(),
    activate: ActivationModeSchema,
    progress: TrainingProgressSchema.optional(),
    datasetSummary: DatasetSummarySchema.optional(),
    /** Candidate and active model scored on the same clips (what "if-better" decides on). */
    comparison: ModelComparisonSchema.optional(),
    /** Past this, a job that has not recorded its end is FAILED: its machine's hard limit has passed. */
    deadline: z.iso.datetime().optional(),
    machineLog: z.string().optional().meta({
      description:
        "On AWS: where the training machine's own log (install, supervisor) is uploaded when it stops (s3://…)",
    }),
    modelVersion: z.string().optional(),
    metrics: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: 'Per evaluation split: accuracy, macroF1, …' }),
    activated: z.boolean().optional(),
    activationReason: z.string().optional(),
    error: z.string().optional(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'TrainingJob' });

export const TrainingJobListSchema = z
  .object({ items: z.array(TrainingJobSchema) })
  .meta({ id: 'TrainingJobList' });

/** Where a registered version came from; the model registry's `ModelSource` is this type. */
export const ModelSourceSchema = z.enum(['bundled', 'trained']);

export const ModelListSchema = z
  .object({
    active: z.string().nullable(),
    items: z.array(
      z.object({
        version: z.string(),
        source: ModelSourceSchema,
        sha256: z.string(),
        location: z
          .string()
          .optional()
          .meta({ examples: ['s3://bucket/models/tess-20261125T0830-1a2b3c4d/'] }),
        metrics: z.record(z.string(), z.unknown()),
        trainingJobId: z.string().optional(),
        createdAt: z.iso.datetime(),
        active: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'ModelList' });

export const ActivatedModelSchema = z
  .object({ active: z.string(), previousVersion: z.string().nullable(), activatedAt: z.iso.datetime() })
  .meta({ id: 'ActivatedModel' });
