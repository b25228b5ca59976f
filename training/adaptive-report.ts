import * as ort from 'onnxruntime-node';
import { spectralDimension } from '../lambdas/core/features/config.ts';
import type { ModelMetadata } from '../lambdas/core/model/metadata.ts';
import {
  type AdaptVariant,
  type CurvePoint,
  probabilitiesOf,
  runVariant,
  streamClip,
  type VariantResult,
} from './adaptive.ts';
import type { StreamClip } from './adaptive-streams.ts';
import type { ClipFeatures } from './features.ts';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** The variants compared: which channels carry the speaker, and how much a few clips are trusted. */
export function candidateVariants(metadata: ModelMetadata, shrinkages: number[]): AdaptVariant[] {
  const own = metadata.speakerAdaptation;
  // A graph trained to read the offset is measured the way it adapts: its own channels and population.
  if (own?.apply === 'input') {
    const { channels, populationMean, shrinkageClips } = own;
    return [
      {
        name: `offset input, shrink ${shrinkageClips}`,
        kind: 'input',
        channels,
        populationMean,
        shrinkageClips,
      },
    ];
  }
  const spectral = spectralDimension(metadata.featureConfig);
  const prosody = metadata.featureConfig.prosody === true;
  const sets: Array<[string, number[]]> = [['cepstral means (CMN)', range(0, spectral)]];
  if (prosody) {
    const pitch = spectral;
    const level = spectral + 2;
    sets.unshift(['pitch', [pitch]], ['pitch + level', [pitch, level]]);
    sets.push(['CMN + pitch + level', [...range(0, spectral), pitch, level]]);
  }
  return [
    ...sets.flatMap(([name, channels]) =>
      shrinkages.map((k) => ({ name: `${name}, shrink ${k}`, channels, shrinkageClips: k })),
    ),
    ...shrinkages.map((k) => ({
      name: `label-shift correction, shrink ${k}`,
      kind: 'prior' as const,
      channels: [],
      shrinkageClips: k,
    })),
  ];
}

export interface AdaptiveEvaluation {
  speakers: string[];
  clips: number;
  results: VariantResult[];
  population: number[];
}

/** Streams every held-out speaker's clips through each variant (see adaptive-streams.ts). */
export async function evaluateAdaptation(options: {
  onnx: Uint8Array;
  metadata: ModelMetadata;
  items: ClipFeatures[];
  population: number[];
  variants: AdaptVariant[];
  repetitions: number;
  seed: number;
}): Promise<AdaptiveEvaluation> {
  const { metadata } = options;
  const { population } = options;
  const clips: StreamClip[] = options.items.map((i) =>
    streamClip(i.clip.speaker, metadata.labels.indexOf(i.clip.emotion), i.original),
  );
  const session = await ort.InferenceSession.create(options.onnx, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const probabilities = await probabilitiesOf(
      session,
      clips.map((c) => c.matrix),
      metadata.input.frames,
      metadata.labels.length,
    );
    const labels = metadata.labels.length;
    clips.forEach((c, i) => {
      c.probabilities = probabilities.slice(i * labels, (i + 1) * labels);
    });
    const results: VariantResult[] = [];
    for (const variant of options.variants) {
      const run = {
        session,
        clips,
        population,
        frames: metadata.input.frames,
        labels: metadata.labels.length,
      };
      results.push(
        await runVariant({ ...run, repetitions: options.repetitions, seed: options.seed }, variant),
      );
    }
    const speakers = [...new Set(clips.map((c) => c.speaker))].sort();
    return { speakers, clips: clips.length, results, population };
  } finally {
    await session.release();
  }
}

const pct = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

function curveRow(b: CurvePoint, s: CurvePoint): string {
  return `| ${b.k} | ${pct(b.accuracy)} (${signed(b.accuracy - b.baseline)}) | ${pct(b.largestShare ?? 0)} | ${pct(s.accuracy)} (${signed(s.accuracy - s.baseline)}) | ${signed(s.worstDelta ?? 0)} |`;
}

/** One markdown table per variant: accuracy after k earlier clips, balanced and 70 %-skewed streams. */
export function adaptationTables(evaluation: AdaptiveEvaluation): string {
  return evaluation.results
    .map((r) =>
      [
        `**${r.variant.name}** (context-free: balanced ${pct(r.balanced[0]!.baseline)} %, skewed ${pct(r.skewed[0]!.baseline)} %)`,
        '',
        '| earlier clips | balanced accuracy % (Δ) | largest class % | 70 %-skewed accuracy % (Δ) | worst dominant emotion Δ |',
        '|---:|---:|---:|---:|---:|',
        ...r.balanced.map((b, i) => curveRow(b, r.skewed[i]!)),
      ].join('\n'),
    )
    .join('\n\n');
}
