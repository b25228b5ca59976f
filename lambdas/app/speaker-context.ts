import { adaptationKey, type SpeakerAdaptation } from '../core/features/speaker-normalization.ts';
import type { PredictionResult, PredictOptions } from '../core/types.ts';
import { SpeakerIdSchema } from './api-schemas.ts';
import type { SpeakerRef, SpeakerRepository } from './speaker-repository.ts';

/** What of the model the speaker path needs: its adaptation, if the package has one. */
export interface AdaptingPredictor {
  readonly metadata?: { speakerAdaptation?: SpeakerAdaptation | undefined };
  predict(audio: Uint8Array, options?: PredictOptions): Promise<PredictionResult>;
}

/** The public result: the clip's contribution to the statistics stays internal. */
export type SpeakerPrediction = Omit<PredictionResult, 'speakerClip'>;

/**
 * A prediction in a speaker's context: one consistent read of the speaker's statistics, the prediction
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
): Promise<SpeakerPrediction> {
  const adaptation = predictor.metadata?.speakerAdaptation;
  if (!ref || !speakers || !adaptation) return withoutClip(await predictor.predict(audio, options));
  const key = adaptationKey(adaptation);
  const known = await speakers.get(ref, key);
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

/** Drop-folder objects belong to one owner: the bucket's writers. */
export const DROP_FOLDER_SCOPE = 'drop-folder';

/**
 * The speaker of a drop-folder object: with `DROP_FOLDER_SPEAKER_PREFIXES` listing `calls` (or `*` for
 * every folder), `incoming/calls/<speakerId>/<file>` belongs to `<speakerId>`. Other paths have none.
 */
export function dropFolderSpeaker(
  relativePath: string,
  prefixes: readonly string[] | undefined,
): SpeakerRef | undefined {
  for (const prefix of prefixes ?? []) {
    const folder = prefix === '*' ? '' : `${prefix.replace(/^\/+|\/+$/g, '')}/`;
    if (!relativePath.startsWith(folder)) continue;
    const [speakerId, ...rest] = relativePath.slice(folder.length).split('/');
    if (rest.length > 0 && SpeakerIdSchema.safeParse(speakerId).success) {
      return { scope: DROP_FOLDER_SCOPE, speakerId: speakerId! };
    }
  }
  return undefined;
}
