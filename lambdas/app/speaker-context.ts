import { adaptationKey, type SpeakerAdaptation } from '../core/features/speaker-normalization.ts';
import type { PredictionResult, PredictOptions } from '../core/types.ts';
import { SPEAKER_ID_CHARACTERS, SpeakerIdSchema } from './api-schemas.ts';
import type { SpeakerRef, SpeakerRepository, StoredSpeaker } from './speaker-repository.ts';

/** What of the model the speaker path needs: its adaptation, if the package has one. */
export interface AdaptingPredictor {
  readonly metadata?: { speakerAdaptation?: SpeakerAdaptation | undefined };
  predict(audio: Uint8Array, options?: PredictOptions): Promise<PredictionResult>;
}

/** The speaker's statistics, already read (with its erasure marker: `SpeakerRepository.getWithMarker`). */
export type KnownStatistics = { stored: StoredSpeaker | undefined };

/** The public result: the clip's contribution to the statistics stays internal. */
export type SpeakerPrediction = Omit<PredictionResult, 'speakerClip'>;

/**
 * A prediction in a speaker's context: one consistent read of the speaker's statistics (none when the
 * caller read them: `known`), the prediction
 * (adapted once the model's `minClips` are known), then one conditional update with this clip (retried
 * only when another clip of the same speaker committed first). Without a speaker, or with a model that
 * does not adapt, it is the plain prediction and touches no statistics.
 */
export async function predictForSpeaker(
  predictor: AdaptingPredictor,
  speakers: SpeakerRepository | undefined,
  audio: Uint8Array,
  options: PredictOptions,
  ref: SpeakerRef | undefined,
  read?: KnownStatistics,
): Promise<SpeakerPrediction> {
  const adaptation = predictor.metadata?.speakerAdaptation;
  if (!ref || !speakers || !adaptation) return withoutClip(await predictor.predict(audio, options));
  const key = adaptationKey(adaptation);
  const known = read ? read.stored : await speakers.get(ref, key);
  const result = await predictor.predict(audio, { ...options, speaker: { statistics: known?.statistics } });
  if (result.speakerClip) await speakers.addClip(ref, key, result.speakerClip, known);
  return withoutClip(result);
}

function withoutClip(result: PredictionResult): SpeakerPrediction {
  const { speakerClip: _, ...rest } = result;
  return rest;
}

/**
 * Who owns a speaker id sent through the API: the caller's API key. Two keys using the same `speakerId`
 * get two contexts (the local stack has one key).
 */
export const speakerScope = (caller: { apiKeyId?: string | undefined }): string =>
  `key:${caller.apiKeyId ?? 'default'}`;

/** A speaker prefix as a folder: `calls` → `calls/`, `*` (every top-level folder) → the root. */
export const speakerPrefixFolder = (prefix: string): string =>
  prefix === '*' ? '' : `${prefix.replace(/^\/+|\/+$/g, '')}/`;

/**
 * Drop-folder speakers belong to the bucket's writers, one scope per speaker prefix: `calls/agent-1/…`
 * and `meetings/agent-1/…` are two speakers (they were one, and erased together).
 */
const DROP_FOLDER_SCOPE = 'drop-folder:';
export const dropFolderScope = (prefix: string): string =>
  `${DROP_FOLDER_SCOPE}${speakerPrefixFolder(prefix)}`;

/** A drop-folder speaker's scope (not an API key's): its clips' events can come after an erasure. */
export const isDropFolderScope = (scope: string): boolean => scope.startsWith(DROP_FOLDER_SCOPE);

/**
 * The folder that would name a drop-folder object's speaker: under the most specific listed prefix the
 * path starts with (whatever the list's order: with `*` and `calls`, `incoming/calls/agent-1/…` is under
 * `calls`), the next folder, when a file is below it. That prefix alone decides: a file directly in its
 * folder (`incoming/calls/a.wav`) has no speaker, not the broader prefix's (`*`: speaker `calls`).
 */
function speakerFolder(relativePath: string, prefixes: readonly string[] | undefined) {
  const prefix = [...(prefixes ?? [])]
    .filter((p) => relativePath.startsWith(speakerPrefixFolder(p)))
    .sort((a, b) => speakerPrefixFolder(b).length - speakerPrefixFolder(a).length)[0];
  if (prefix === undefined) return undefined;
  const [name, ...rest] = relativePath.slice(speakerPrefixFolder(prefix).length).split('/');
  return rest.length > 0 && name ? { prefix, name } : undefined;
}

/**
 * The speaker of a drop-folder object: with `DROP_FOLDER_SPEAKER_PREFIXES` listing `calls` (or `*` for
 * every folder), `incoming/calls/<speakerId>/<file>` belongs to `<speakerId>`. Other paths have none.
 */
export function dropFolderSpeaker(
  relativePath: string,
  prefixes: readonly string[] | undefined,
): SpeakerRef | undefined {
  const found = speakerFolder(relativePath, prefixes);
  return found && SpeakerIdSchema.safeParse(found.name).success
    ? { scope: dropFolderScope(found.prefix), speakerId: found.name }
    : undefined;
}

/**
 * Why a drop-folder object under a speaker prefix has no speaker (its folder's name is not a valid
 * speakerId), or undefined: said, so that a folder silently left out of its speaker's context is seen.
 */
export function dropFolderSpeakerProblem(
  relativePath: string,
  prefixes: readonly string[] | undefined,
): string | undefined {
  const found = speakerFolder(relativePath, prefixes);
  if (!found || SpeakerIdSchema.safeParse(found.name).success) return undefined;
  return `folder ${JSON.stringify(found.name)} under speaker prefix ${JSON.stringify(found.prefix)} is not a valid speakerId (1–128 ${SPEAKER_ID_CHARACTERS}): no speaker`;
}
