import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { addClip, type SpeakerStatistics } from '../lambdas/core/features/speaker-normalization.ts';
import type { PredictionResult, PredictOptions } from '../lambdas/core/types.ts';

export interface SpeakerContextOptions {
  /** Every file is one speaker's. */
  speaker?: string;
  /** `folder`: the files of each folder are one speaker's. */
  groupBy?: 'folder';
}

/**
 * `ser predict --speaker <id>` / `--group-by folder`: the speaker statistics of one CLI run, in memory
 * (nothing is stored); each file is judged against the earlier files of its speaker, in walk order.
 */
export type SpeakerContexts = ReturnType<typeof createSpeakerContexts>;

export function createSpeakerContexts(options: SpeakerContextOptions) {
  const statistics = new Map<string, SpeakerStatistics>();
  const speakerOf = (file: string): string | undefined =>
    options.speaker ?? (options.groupBy === 'folder' ? folderSpeaker(file) : undefined);
  return {
    speakerOf,
    /** The `speaker` option of the file's prediction (none without a context). */
    predictOptions(file: string): PredictOptions['speaker'] {
      const speaker = speakerOf(file);
      return speaker === undefined ? undefined : { statistics: statistics.get(speaker) };
    },
    /** Adds the file's clip to its speaker's statistics. */
    record(file: string, result: PredictionResult): void {
      const speaker = speakerOf(file);
      if (speaker !== undefined && result.speakerClip) {
        statistics.set(speaker, addClip(statistics.get(speaker), result.speakerClip));
      }
    },
  };
}

/**
 * A file's folder as one name however the path is spelled (`a//b`, `a/./b`, relative or absolute): relative
 * to the working directory when inside it (`.` for itself), else absolute.
 */
export function folderSpeaker(file: string): string {
  const folder = resolve(dirname(file));
  const inside = relative(process.cwd(), folder);
  if (inside === '') return '.';
  const outside = inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
  return outside ? folder : inside;
}
