import { describe, expect, it } from 'vitest';
import {
  averageProbabilities,
  ensembleOf,
  type SavedProbabilities,
  scoreRun,
} from '../training/ensemble-folds.ts';
import { packageCalibration } from '../training/pipeline.ts';

const labels = ['a', 'b'];
/** Four held-out clips in two folds; truths a, b, a, b. */
const run = (name: string, probabilities: number[]): SavedProbabilities => ({
  name,
  labels,
  folds: [
    { actors: ['ravdess:01'], accuracy: 0, clips: 2, trainSeconds: 10 },
    { actors: ['ravdess:02'], accuracy: 0, clips: 2, trainSeconds: 20 },
  ],
  clean: { truth: [0, 1, 0, 1], foldOf: [0, 0, 1, 1], probabilities },
  channelShifted: { truth: [0, 1], probabilities: probabilities.slice(0, 4) },
});

describe('ensembles of development runs', () => {
  it('averages the members probabilities element by element', () => {
    expect([
      ...averageProbabilities([
        [0.2, 0.8],
        [0.6, 0.4],
      ]),
    ]).toEqual([expect.closeTo(0.4, 6), expect.closeTo(0.6, 6)]);
  });

  it('scores the averaged ensemble, not either member', () => {
    // x misses clip 2, y misses clip 1 (less confidently than the other is right): their mean misses none.
    const x = run('x', [0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.45, 0.55]);
    const y = run('y', [0.4, 0.6, 0.05, 0.95, 0.9, 0.1, 0.45, 0.55]);
    expect(scoreRun(x).clean.accuracy).toBe(0.75);
    expect(scoreRun(y).clean.accuracy).toBe(0.75);
    const xy = scoreRun(ensembleOf('xy', [x, y]));
    expect(xy.clean.accuracy).toBe(1);
    expect(xy.folds.map((f) => [f.actors[0], f.accuracy, f.clips, f.trainSeconds])).toEqual([
      ['ravdess:01', 1, 2, 20],
      ['ravdess:02', 1, 2, 40],
    ]);
    expect(xy.channelShifted?.accuracy).toBe(1);
  });

  it('refuses runs scored on other clips', () => {
    const x = run('x', [0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.45, 0.55]);
    const other = { ...run('other', x.clean.probabilities), clean: { ...x.clean, truth: [1, 1, 0, 1] } };
    expect(() => ensembleOf('bad', [x, other])).toThrow(/not scored on the same clips/);
  });

  it("the package's calibration note names the run's own fold actors and the clips in its folds", () => {
    // develop.ts records every clip it scanned (TESS included) as `clips`, not the folds' held-out clips.
    const scored = { ...scoreRun(run('x', [0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.45, 0.55])), clips: 999 };

    const note = packageCalibration(undefined, { source: 'x.json', run: scored })?.fittedOn;

    expect(note).toContain('x (x.json): ravdess:01, ravdess:02 each held out once, 4 clips in its folds;');
    expect(note).not.toMatch(/01–12|999/);
  });
});
