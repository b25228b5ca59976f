import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spectralDimension } from '../../lambdas/core/features/config.ts';
import type { SpeakerAdaptation } from '../../lambdas/core/features/speaker-normalization.ts';
import type { ModelMetadata } from '../../lambdas/core/model/metadata.ts';
import { BUNDLED_MODEL_DIR } from '../../lambdas/core/predict.ts';

/**
 * A copy of the shipped model package whose metadata adapts pitch and level (or `adaptation`), so that
 * the tests do not depend on the setting the shipped package carries (a retrained model may not have one
 * yet). The population values are plausible ones; the tests check plumbing, not accuracy.
 */
export async function adaptingModelDir(adaptation: Partial<SpeakerAdaptation> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-adapting-model-'));
  await cp(BUNDLED_MODEL_DIR, dir, { recursive: true });
  const metadata = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as ModelMetadata;
  const pitch = spectralDimension(metadata.featureConfig);
  metadata.speakerAdaptation = {
    channels: [pitch, pitch + 2],
    populationMean: [13.5, -29.5],
    shrinkageClips: 5,
    minClips: 3,
    ...adaptation,
  };
  await writeFile(join(dir, 'metadata.json'), JSON.stringify(metadata, null, 2));
  return dir;
}
