import type { Clip } from './datasets.ts';
import { createRng, shuffle } from './random.ts';

export interface Split<T> {
  name: string;
  /** One sentence a reader of the report understands. */
  description: string;
  train: T[];
  validation: T[];
  test: T[];
}

type WithClip = { clip: Clip };

/**
 * Seeded stratified sample: from every (corpus, emotion) group takes `fraction` (rounded) for the
 * held-out part. Groups are shuffled with one PRNG in a fixed (sorted) order, so the same seed and clips
 * always give the same split.
 */
export function stratifiedHoldout<T extends WithClip>(
  items: T[],
  fraction: number,
  seed: number,
): [T[], T[]] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.clip.corpus}/${item.clip.emotion}`;
    const group = groups.get(key) ?? [];
    group.push(item);
    groups.set(key, group);
  }
  const rng = createRng(seed);
  const kept: T[] = [];
  const held: T[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = [...groups.get(key)!].sort((a, b) => (a.clip.path < b.clip.path ? -1 : 1));
    shuffle(group, rng);
    // At least one held out from any group that can spare one (tiny folders still get a test clip).
    const count = group.length >= 2 && fraction > 0 ? Math.max(1, Math.round(group.length * fraction)) : 0;
    held.push(...group.slice(0, count));
    kept.push(...group.slice(count));
  }
  return [kept, held];
}

/** Random stratified split: `testFraction` test, then `validationFraction` of the rest for early stopping. */
export function randomSplit<T extends WithClip>(
  name: string,
  items: T[],
  seed: number,
  testFraction = 0.2,
  validationFraction = 0.1,
): Split<T> {
  const [rest, test] = stratifiedHoldout(items, testFraction, seed);
  const [train, validation] = stratifiedHoldout(rest, validationFraction, seed + 1);
  return {
    name,
    description: `random stratified by corpus and emotion (seed ${seed}): ${pct(testFraction)} test, ${pct(validationFraction)} of the rest validation; speakers and words are shared between train and test`,
    train,
    validation,
    test,
  };
}

/**
 * Speaker-independent split: every clip of `testSpeakers` is test; validation is a stratified sample of
 * the training speakers' clips (the test speakers are never looked at while training).
 */
export function speakerSplit<T extends WithClip>(
  name: string,
  items: T[],
  testSpeakers: string[],
  seed: number,
  validationFraction = 0.1,
): Split<T> {
  const test = items.filter((i) => testSpeakers.includes(i.clip.speaker));
  const rest = items.filter((i) => !testSpeakers.includes(i.clip.speaker));
  if (test.length === 0) throw new Error(`Split ${name}: no clips of ${testSpeakers.join(', ')}`);
  if (rest.length === 0) throw new Error(`Split ${name}: nothing left to train on`);
  const [train, validation] = stratifiedHoldout(rest, validationFraction, seed + 1);
  return {
    name,
    description: `speaker-independent: test = every clip of ${testSpeakers.join(', ')}; train/validation = the other speakers`,
    train,
    validation,
    test,
  };
}

/**
 * The multi-corpus split: TESS random stratified (both TESS speakers are in training: there are only
 * two) plus whole held-out speakers for a speaker-independent test. With no speaker held out (the shipped
 * package, `train --heldout none`), every clip of the other corpora trains and the recipe's unseen-voice
 * figure comes from the actor folds instead (training/develop.ts).
 */
export function multiCorpusSplit<T extends WithClip>(
  name: string,
  items: T[],
  heldOutSpeakers: string[],
  seed: number,
  testFraction = 0.2,
  validationFraction = 0.1,
): Split<T> {
  const heldOut = items.filter((i) => heldOutSpeakers.includes(i.clip.speaker));
  const seenSpeakers = items.filter((i) => !heldOutSpeakers.includes(i.clip.speaker));
  const tess = seenSpeakers.filter((i) => i.clip.corpus === 'tess');
  const others = seenSpeakers.filter((i) => i.clip.corpus !== 'tess');
  const [tessRest, tessTest] = stratifiedHoldout(tess, testFraction, seed);
  const [train, validation] = stratifiedHoldout([...tessRest, ...others], validationFraction, seed + 1);
  return {
    name,
    description: `multi-corpus: test = TESS random stratified ${pct(testFraction)} (seed ${seed})${heldOutSpeakers.length ? ` + every clip of held-out ${heldOutSpeakers.join(', ')}` : ' (no speaker held out: every clip of the other corpora trains)'}; train = the rest (${pct(validationFraction)} of it stratified for validation)`,
    train,
    validation,
    test: [...tessTest, ...heldOut],
  };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/**
 * Early stopping judged on new voices (round 28): every clip of `speakers` leaves training for
 * validation, and the validation clips of their corpus's other speakers go back to training. A stratified
 * tenth of the training speakers' own clips rewards knowing those voices; a user brings a new one. Other
 * corpora keep their validation part (TESS has two voices, both needed in training).
 */
export function speakerValidation<T extends WithClip>(split: Split<T>, speakers: string[]): Split<T> {
  const isVoice = (i: T) => speakers.includes(i.clip.speaker);
  const corpora = new Set([...split.train, ...split.validation].filter(isVoice).map((i) => i.clip.corpus));
  if (corpora.size === 0) throw new Error(`no training clips of ${speakers.join(', ')} to validate on`);
  const sameCorpus = (i: T) => corpora.has(i.clip.corpus);
  return {
    ...split,
    description: `${split.description}; validation of ${[...corpora].join(', ')}: every clip of ${speakers.join(', ')}, not trained on`,
    train: [
      ...split.train.filter((i) => !isVoice(i)),
      ...split.validation.filter((i) => sameCorpus(i) && !isVoice(i)),
    ],
    validation: [
      ...split.validation.filter((i) => !sameCorpus(i) || isVoice(i)),
      ...split.train.filter(isVoice),
    ],
  };
}

/** Throws if any clip (by audio hash) is in two parts of a split: augmented copies travel with their clip. */
export function assertNoLeak<T extends WithClip & { sampleHash: string }>(split: Split<T>): void {
  const where = new Map<string, string>();
  for (const part of ['train', 'validation', 'test'] as const) {
    for (const item of split[part]) {
      const other = where.get(item.sampleHash);
      if (other && other !== part)
        throw new Error(`Split ${split.name} leaks ${item.clip.path}: ${other} and ${part}`);
      where.set(item.sampleHash, part);
    }
  }
}
