import { createHash } from 'node:crypto';

/**
 * The bucket's key layout. API uploads: `uploads/<id>/<sanitised name>` (the id is the server's, never
 * the client's). Drop folder: `incoming/<anything>`. Results of drop-folder objects:
 * `results/<same relative path>.json`. Only `uploads/` and `incoming/` trigger the processor, so writing
 * under `results/` can never recurse.
 */
export const UPLOADS_PREFIX = 'uploads/';
export const INCOMING_PREFIX = 'incoming/';
export const RESULTS_PREFIX = 'results/';
export const TRIGGER_PREFIXES = [UPLOADS_PREFIX, INCOMING_PREFIX] as const;

/**
 * Training data: jobs read only under here (the instance role's read grant is this prefix, and nothing
 * else is data); a job names a prefix under it, `DEFAULT_DATASET` when it names none.
 */
export const DATASETS_ROOT = 'datasets/';
export const DEFAULT_DATASET = `${DATASETS_ROOT}tess/`;

/**
 * A training machine's own output (cloud-init's log: install, supervisor, exit), uploaded by its EXIT
 * trap, one folder per job: the one place an operator can see why a machine died before its job could
 * record why. The instance role may write here and nowhere else outside `models/`.
 */
export const TRAINING_LOGS_PREFIX = 'training-logs/';
/**
 * `jobId` may be a shell variable (`$TRAINING_JOB_ID`, in the user data): job ids are `[\w-]` only
 * (`JobIdSchema`, lambdas/training/job-repository.ts).
 */
export const trainingLogKey = (jobId: string): string =>
  `${TRAINING_LOGS_PREFIX}${jobId}/cloud-init-output.log`;

const MAX_FILE_NAME_LENGTH = 120;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Turns any client-supplied name into one safe path segment: no separators, no dot-only names. */
export function sanitizeFileName(fileName: string): string {
  // Accents dropped, not replaced (résumé → resume); the extension kept apart, so a name in another
  // script keeps it (音声.wav → audio.wav, not "wav").
  const base = (fileName.split(/[/\\]/).pop() ?? '').normalize('NFKD').replace(/\p{M}+/gu, '');
  const extension = /\.[A-Za-z0-9]{1,8}$/.exec(base)?.[0] ?? '';
  const stem = base
    .slice(0, base.length - extension.length)
    .replace(/[^\w.-]+/g, '_')
    .replace(/_+/g, '_')
    .slice(-(MAX_FILE_NAME_LENGTH - extension.length))
    .replace(/^[._]+/, '');
  return `${stem || 'audio'}${extension}`;
}

export const uploadKey = (id: string, fileName: string): string =>
  `${UPLOADS_PREFIX}${id}/${sanitizeFileName(fileName)}`;

export const isUploadId = (id: string): boolean => UPLOAD_ID.test(id);

/**
 * Prediction ids: a server-chosen UUID (API) or 32 hex digits (drop folder). Internal items of the same
 * table (model registry, training jobs and lock) use upper-case keys such as `MODEL_ACTIVE`, so the two
 * key spaces are disjoint by construction; reads check both the form and the item's listing partition.
 */
export const PREDICTION_ID =
  /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
export const isPredictionId = (id: string): boolean => PREDICTION_ID.test(id);
/**
 * The two forms of `PREDICTION_ID` as IAM `dynamodb:LeadingKeys` patterns (`?` is one character): a UUID
 * and 32 characters. The patterns say nothing of hex, so a grant that uses them also excludes the other
 * items' keys by name.
 */
export const PREDICTION_LEADING_KEYS = ['????????-????-????-????-????????????', '?'.repeat(32)];

export type ObjectOrigin =
  | { source: 'api'; id: string; fileName: string }
  | { source: 'drop-folder'; relativePath: string; fileName: string };

/** What a key means to the processor, or `undefined` for keys it must not touch (e.g. `results/`). */
export function classifyKey(key: string): ObjectOrigin | undefined {
  if (key.startsWith(UPLOADS_PREFIX)) {
    const [id, ...rest] = key.slice(UPLOADS_PREFIX.length).split('/');
    if (!id || !isUploadId(id) || rest.length !== 1 || !rest[0]) return undefined;
    return { source: 'api', id, fileName: rest[0] };
  }
  if (key.startsWith(INCOMING_PREFIX)) {
    const relativePath = key.slice(INCOMING_PREFIX.length);
    if (relativePath.length === 0 || relativePath.endsWith('/')) return undefined;
    return { source: 'drop-folder', relativePath, fileName: relativePath.split('/').pop()! };
  }
  return undefined;
}

export const resultKey = (relativePath: string): string => `${RESULTS_PREFIX}${relativePath}.json`;

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * Why a drop-folder object cannot have a result file, or `undefined` when it can: a `.` or `..` segment
 * (a path trick: on a file-system-backed store `incoming/../../x` leaves the bucket's folder), or a
 * result key over S3's 1024-byte limit (`results/` + the path + `.json` is 4 bytes longer than the
 * `incoming/` key, so incoming keys over 1020 bytes). Such objects end FAILED with this code.
 */
export function dropFolderKeyProblem(
  relativePath: string,
): { code: 'INVALID_KEY' | 'KEY_TOO_LONG'; message: string } | undefined {
  if (relativePath.split('/').some((segment) => segment === '.' || segment === '..')) {
    return { code: 'INVALID_KEY', message: 'The key has a "." or ".." segment; such keys are refused' };
  }
  const bytes = Buffer.byteLength(resultKey(relativePath));
  if (bytes > MAX_KEY_BYTES) {
    return {
      code: 'KEY_TOO_LONG',
      message: `The result key would be ${bytes} bytes, over S3's ${MAX_KEY_BYTES}-byte limit: keep incoming/ keys to ${MAX_KEY_BYTES - (RESULTS_PREFIX.length + '.json'.length - INCOMING_PREFIX.length)} bytes`,
    };
  }
  return undefined;
}

/**
 * A drop-folder object's prediction id: the same object version always maps to the same id, so a
 * duplicate event finds the existing record, while a new upload to the same key gets a new one.
 */
export function dropFolderId(bucket: string, key: string, version: string): string {
  // `version` is the versionId, or the ETag plus the event's sequencer (see `objectVersionOf`).
  return createHash('sha256').update(`${bucket}\n${key}\n${version}`).digest('hex').slice(0, 32);
}
