import type { FeatureConfig } from '../lambdas/core/features/config.ts';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { TEST_CHANNEL } from './channel.ts';
import type { Clip } from './datasets.ts';
import { createFeaturePipeline } from './features.ts';
import { DEFAULTS } from './pipeline.ts';

/** The unseen channel's own seed: its copies never share a draw with the training channel's. */
export const UNSEEN_CHANNEL_SEED = 424242;

/**
 * One copy of every RAVDESS clip through the unseen `TEST_CHANNEL`, by file hash: what the development
 * folds score "through the unseen channel" (cached like every feature).
 */
export async function unseenChannelCopies(
  clips: readonly Clip[],
  config: FeatureConfig,
): Promise<Map<string, FeatureMatrix>> {
  const pipeline = await createFeaturePipeline({
    config,
    augmentCopies: 0,
    augmentation: DEFAULTS.augmentation,
    seed: UNSEEN_CHANNEL_SEED,
    channel: TEST_CHANNEL,
    channelCopies: 1,
  });
  const copies = new Map<string, FeatureMatrix>();
  for (const i of (await pipeline.run(clips.filter((c) => c.corpus === 'ravdess'))).items)
    copies.set(i.fileHash, i.channel[0]!);
  return copies;
}
