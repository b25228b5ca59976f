import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { calibrate, type DevelopmentRun, type FoldsResult, metricsOf } from './folds.ts';

/**
 * `npx tsx training/ensemble-folds.ts --name AAB a.json b.json c.json`: scores an ensemble of development
 * runs from their saved out-of-fold probabilities (`develop.ts --save-probabilities`), averaging the
 * members' probabilities as the exported graph does. Every run must come from the same split (same
 * clips in the same order): that is checked, not assumed.
 */
export interface SavedProbabilities {
  name: string;
  labels: string[];
  /** The member run's folds (actors, clips, training seconds), in fold order. */
  folds: FoldsResult['folds'];
  clean: { truth: number[]; foldOf: number[]; probabilities: number[] };
  channelShifted?: { truth: number[]; probabilities: number[] };
}

const sameNumbers = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** The element-wise mean of the members' probabilities (the ensemble's output). */
export function averageProbabilities(members: ReadonlyArray<readonly number[]>): Float32Array {
  const mean = new Float32Array(members[0]!.length);
  for (const m of members) for (let i = 0; i < mean.length; i++) mean[i]! += m[i]! / members.length;
  return mean;
}

/** The ensemble's saved-probabilities record; throws when the runs were not scored on the same clips. */
export function ensembleOf(name: string, runs: readonly SavedProbabilities[]): SavedProbabilities {
  const [first, ...rest] = runs;
  if (!first) throw new Error('no runs given');
  for (const r of rest) {
    const sameClean =
      sameNumbers(r.clean.truth, first.clean.truth) && sameNumbers(r.clean.foldOf, first.clean.foldOf);
    const sameShifted = sameNumbers(r.channelShifted?.truth ?? [], first.channelShifted?.truth ?? []);
    if (!sameClean || !sameShifted || r.labels.join() !== first.labels.join())
      throw new Error(`${r.name} was not scored on the same clips as ${first.name}`);
  }
  const shifted = first.channelShifted;
  return {
    name,
    labels: first.labels,
    folds: first.folds.map((f, i) => ({
      ...f,
      trainSeconds: runs.reduce((t, r) => t + r.folds[i]!.trainSeconds, 0),
    })),
    clean: {
      ...first.clean,
      probabilities: [...averageProbabilities(runs.map((r) => r.clean.probabilities))],
    },
    ...(shifted && {
      channelShifted: {
        truth: shifted.truth,
        probabilities: [...averageProbabilities(runs.map((r) => r.channelShifted!.probabilities))],
      },
    }),
  };
}

/** Each fold's accuracy on its own held-out actors, in fold order. */
function foldAccuracies(run: SavedProbabilities): FoldsResult['folds'] {
  const k = run.labels.length;
  return run.folds.map((fold, f) => {
    const rows = run.clean.foldOf.flatMap((g, r) => (g === f ? [r] : []));
    const probabilities = Float32Array.from(
      rows.flatMap((r) => run.clean.probabilities.slice(r * k, (r + 1) * k)),
    );
    const m = metricsOf(
      run.labels,
      probabilities,
      rows.map((r) => run.clean.truth[r]!),
    ).pooled;
    return { ...fold, accuracy: m.accuracy, clips: m.support };
  });
}

/** The pooled figures of one (ensemble) record, as a development run (what `--calibrate-on` reads). */
export function scoreRun(run: SavedProbabilities, options: Record<string, unknown> = {}): DevelopmentRun {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  const summary = (m: ReturnType<typeof metricsOf>) => ({
    accuracy: m.pooled.accuracy,
    macroF1: m.pooled.macroF1,
    standardError: round(m.standardError),
    largestShare: m.largestShare,
  });
  const clean = metricsOf(run.labels, Float32Array.from(run.clean.probabilities), run.clean.truth);
  const shifted =
    run.channelShifted &&
    metricsOf(run.labels, Float32Array.from(run.channelShifted.probabilities), run.channelShifted.truth);
  return {
    name: run.name,
    clips: run.clean.truth.length,
    seconds: run.folds.reduce((t, f) => t + f.trainSeconds, 0),
    options,
    clean: summary(clean),
    ...(shifted && { channelShifted: summary(shifted) }),
    folds: foldAccuracies(run),
    calibration: calibrate(
      Float32Array.from(run.clean.probabilities),
      run.clean.truth,
      run.clean.foldOf,
      run.labels.length,
    ),
    confusion: clean.pooled.confusion,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command()
    .requiredOption('--name <name>', 'ensemble name')
    .option('--out <file>', 'JSON file for the scores (with reliability bins)')
    .argument('<files...>', 'saved probabilities of the member runs')
    .parse();
  const { name, out } = program.opts<{ name: string; out?: string }>();
  const runs = await Promise.all(
    program.args.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as SavedProbabilities),
  );
  const score = scoreRun(ensembleOf(name, runs), { members: program.args });
  const { binsBefore: _b, binsAfter: _a, ...calibration } = score.calibration;
  const mean = score.channelShifted && (score.clean.accuracy + score.channelShifted.accuracy) / 2;
  process.stdout.write(`${JSON.stringify({ ...score, mean, calibration, confusion: undefined }, null, 1)}\n`);
  if (out) await writeFile(out, `${JSON.stringify(score, null, 1)}\n`);
}
