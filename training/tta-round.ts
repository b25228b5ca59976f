/**
 * `npx tsx training/tta-round.ts <A.views.json> <B1.views.json> <B2.views.json> [--out <file>]`: round 22
 * (models/ser-lstm/ROUND22.md) — the recipe's ensemble scored on its actor folds' held-out clips alone
 * and averaged with K of each clip's cached speaker-like copies (test-time averaging), from the views
 * `develop.ts --save-views` wrote. Views are averaged first, then members, as the graph averages members.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { argmax } from './adaptive.ts';
import { computeMetrics, largestClassShare, reliability } from './metrics.ts';

/** One held-out clip of one fold: view 0 is the clip, view c + 1 its c-th speaker-like copy. */
export interface HeldOutViews {
  file: string;
  truth: number;
  speaker: string;
  views: number[][];
}

interface SavedViews {
  name: string;
  labels: string[];
  views: HeldOutViews[];
}

/** Fixed before the runs (ROUND22.md): K = 0 is the reference. */
const COPY_COUNTS = [0, 2, 4, 8];

/** The members' files, checked to hold the same clips in the same order with the same truths. */
async function loadMembers(files: string[]): Promise<SavedViews[]> {
  const members = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as SavedViews),
  );
  const [first, ...rest] = members;
  if (!first) throw new Error('name the members’ --save-views files');
  for (const m of rest) {
    const same = m.views.length === first.views.length;
    if (!same || m.views.some((v, i) => v.file !== first.views[i]!.file || v.truth !== first.views[i]!.truth))
      throw new Error(`${m.name}: its held-out clips do not line up with ${first.name}'s`);
  }
  return members;
}

/** The ensemble's probabilities for every clip with the clip and its first `copies` copies averaged. */
function ensembleProbabilities(members: SavedViews[], copies: number): Float32Array {
  const k = members[0]!.labels.length;
  const clips = members[0]!.views.length;
  const out = new Float32Array(clips * k);
  for (const member of members) {
    member.views.forEach((clip, row) => {
      if (clip.views.length < copies + 1) throw new Error(`${member.name}: ${clip.file} has too few copies`);
      for (let v = 0; v <= copies; v++)
        for (let j = 0; j < k; j++) out[row * k + j]! += clip.views[v]![j]! / (copies + 1) / members.length;
    });
  }
  return out;
}

/** Accuracy, per-fold accuracy (folds = the speakers' groups in file order), collapse and ECE. */
function score(members: SavedViews[], copies: number) {
  const { labels, views } = members[0]!;
  const k = labels.length;
  const probabilities = ensembleProbabilities(members, copies);
  const truth = views.map((v) => v.truth);
  const predicted = views.map((_, row) => argmax(probabilities.subarray(row * k, (row + 1) * k)));
  const metrics = computeMetrics(labels, truth, predicted);
  // develop.ts's actor folds: RAVDESS actors 01–04, 05–08, 09–12.
  const foldOf = (speaker: string) => {
    const actor = Number(/^ravdess:(\d+)$/.exec(speaker)?.[1]);
    if (!(actor >= 1 && actor <= 12)) throw new Error(`${speaker}: not one of RAVDESS actors 01–12`);
    return Math.floor((actor - 1) / 4);
  };
  const folds = [0, 1, 2].map((fold) => {
    const rows = views.flatMap((v, row) => (foldOf(v.speaker) === fold ? [row] : []));
    return Math.round((rows.filter((r) => predicted[r] === truth[r]).length / rows.length) * 1000) / 1000;
  });
  const largest = largestClassShare(metrics.confusion);
  return {
    copies,
    accuracy: metrics.accuracy,
    folds,
    largestClass: { label: labels[largest.label], share: largest.share },
    ece: reliability(probabilities, truth, k).ece,
  };
}

const program = new Command()
  .argument('<views...>', "the members' --save-views files")
  .option('--out <file>', 'JSON results')
  .parse();
const members = await loadMembers(program.args);
const results = COPY_COUNTS.map((copies) => score(members, copies));
for (const r of results)
  console.log(
    `K = ${r.copies}: accuracy ${r.accuracy} (folds ${r.folds.join(' / ')}), largest class ${r.largestClass.label} ${Math.round(r.largestClass.share * 100)} %, ECE ${r.ece}`,
  );
const opts = program.opts<{ out?: string }>();
if (opts.out)
  await writeFile(opts.out, `${JSON.stringify({ members: members.map((m) => m.name), results }, null, 1)}\n`);
