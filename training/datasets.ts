import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';

/** Our labels, in the model's output order. Calm (RAVDESS) and boredom (EMO-DB) are not among them. */
export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'] as const;
export type Emotion = (typeof EMOTIONS)[number];

/** Corpora recognised by their file-naming scheme. */
export const NAMED_CORPORA = ['tess', 'ravdess', 'emodb', 'cremad'] as const;
type NamedCorpus = (typeof NAMED_CORPORA)[number];
/** Clips labelled by a `labels.csv` in their folder (`path,emotion[,speaker]`): an operator's own data. */
export const LABELS_CSV = 'labels.csv';
export const CORPORA = [...NAMED_CORPORA, 'csv'] as const;
export type Corpus = (typeof CORPORA)[number];

export interface Clip {
  path: string;
  corpus: Corpus;
  /** Unique across corpora, e.g. `tess:OAF`, `ravdess:07`. */
  speaker: string;
  /** What was said (word, sentence id), for reports and leakage checks. */
  text: string;
  emotion: Emotion;
}

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

const AUDIO_EXTENSIONS = new Set(['.wav', '.flac', '.aiff', '.aif', '.mp3', '.ogg']);

/** `--data` flag, else `SER_DATASET_DIR`, else `../shared/datasets` next to the repository. */
export function defaultDatasetDir(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  return process.env.SER_DATASET_DIR ?? resolve(repo, '..', 'shared', 'datasets');
}

type Parsed = Omit<Clip, 'path'> | { skipped: string };

const TESS_EMOTIONS: Record<string, Emotion> = {
  angry: 'angry',
  disgust: 'disgust',
  fear: 'fear',
  happy: 'happy',
  neutral: 'neutral',
  sad: 'sad',
  ps: 'surprise',
  pleasant_surprise: 'surprise',
  pleasant_surprised: 'surprise',
  surprise: 'surprise',
  surprised: 'surprise',
};

/**
 * TESS as distributed on Kaggle: `OAF_back_angry.wav` in folders like `OAF_angry`, `OAF_Fear`,
 * `YAF_pleasant_surprised`; `OA_bite_neutral` is OAF's. The emotion comes from the file name's suffix
 * (the folder spellings vary, the suffixes do not); the speaker from the prefix.
 */
function parseTess(stem: string): Parsed | undefined {
  const match = /^(OAF|YAF|OA|YA)_([a-z]+)_([a-z_]+)$/i.exec(stem);
  if (!match) return undefined;
  const emotion = TESS_EMOTIONS[match[3]!.toLowerCase()];
  if (!emotion) return undefined;
  const speaker = match[1]!.toUpperCase().startsWith('O') ? 'OAF' : 'YAF';
  return { corpus: 'tess', speaker: `tess:${speaker}`, text: match[2]!.toLowerCase(), emotion };
}

const RAVDESS_EMOTIONS: Record<string, Emotion | undefined> = {
  '01': 'neutral',
  '02': undefined, // calm
  '03': 'happy',
  '04': 'sad',
  '05': 'angry',
  '06': 'fear',
  '07': 'disgust',
  '08': 'surprise',
};

/** RAVDESS `MM-VV-EE-II-SS-RR-AA`: audio-only (03) speech (01) files; calm is not one of our labels. */
function parseRavdess(stem: string): Parsed | undefined {
  const match = /^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$/.exec(stem);
  if (!match) return undefined;
  const [, modality, channel, code, , statement, , actor] = match;
  if (modality !== '03' || channel !== '01') return { skipped: 'ravdess video or song' };
  if (!(code! in RAVDESS_EMOTIONS)) return undefined;
  const emotion = RAVDESS_EMOTIONS[code!];
  if (!emotion) return { skipped: 'ravdess calm' };
  return { corpus: 'ravdess', speaker: `ravdess:${actor}`, text: `statement-${statement}`, emotion };
}

/**
 * RAVDESS's calm clips labelled neutral, for a development run that trains on them as more neutral
 * speech (`develop.ts --calm-as-neutral`, round 30); never a test clip. Same walk as `scanDataset`.
 */
export async function ravdessCalmAsNeutral(root: string): Promise<Clip[]> {
  const found = { files: [] as string[], csvFolders: [] as string[] };
  await walk(resolve(root), found);
  return found.files.flatMap((path) => {
    const match = /^03-01-02-\d\d-(\d\d)-\d\d-(\d\d)$/.exec(basename(path, extname(path)));
    if (!match) return [];
    const [, statement, actor] = match;
    const clip: Clip = {
      path,
      corpus: 'ravdess',
      speaker: `ravdess:${actor}`,
      text: `statement-${statement} calm`,
      emotion: 'neutral',
    };
    return [clip];
  });
}

const EMODB_EMOTIONS: Record<string, Emotion | undefined> = {
  W: 'angry', // Ärger
  L: undefined, // Langeweile (boredom)
  E: 'disgust', // Ekel
  A: 'fear', // Angst
  F: 'happy', // Freude
  T: 'sad', // Trauer
  N: 'neutral',
};

/** EMO-DB `03a01Wa`: speaker 03, text a01, emotion letter W, version a. Boredom is not ours. */
function parseEmodb(stem: string): Parsed | undefined {
  const match = /^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$/.exec(stem);
  if (!match) return undefined;
  const emotion = EMODB_EMOTIONS[match[3]!];
  if (!emotion) return { skipped: 'emodb boredom' };
  return { corpus: 'emodb', speaker: `emodb:${match[1]}`, text: match[2]!, emotion };
}

const CREMAD_EMOTIONS: Record<string, Emotion> = {
  ANG: 'angry',
  DIS: 'disgust',
  FEA: 'fear',
  HAP: 'happy',
  NEU: 'neutral',
  SAD: 'sad',
};

/** CREMA-D `1001_DFA_ANG_XX`: actor, sentence, emotion, intensity. */
function parseCremad(stem: string): Parsed | undefined {
  const match = /^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$/.exec(stem);
  if (!match) return undefined;
  const emotion = CREMAD_EMOTIONS[match[3]!];
  if (!emotion) return undefined;
  return { corpus: 'cremad', speaker: `cremad:${match[1]}`, text: match[2]!, emotion };
}

const PARSERS: Record<NamedCorpus, (stem: string) => Parsed | undefined> = {
  tess: parseTess,
  ravdess: parseRavdess,
  emodb: parseEmodb,
  cremad: parseCremad,
};

/** Which corpus a file name belongs to (by its naming scheme), or undefined if none. */
export function parseClipName(path: string): Parsed | undefined {
  const stem = basename(path, extname(path));
  for (const corpus of NAMED_CORPORA) {
    const parsed = PARSERS[corpus](stem);
    if (parsed) return parsed;
  }
  return undefined;
}

/** Audio files by name scheme, and the folders whose clips a `labels.csv` labels (not walked further). */
async function walk(dir: string, out: { files: string[]; csvFolders: string[] }): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name.toLowerCase() === LABELS_CSV)) {
    out.csvFolders.push(dir);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === '__MACOSX') continue; // macOS zip resource forks
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile() && AUDIO_EXTENSIONS.has(extname(entry.name).toLowerCase())) out.files.push(full);
  }
}

/** Emotion names an operator's labels.csv may use, mapped to ours (case and spacing ignored). */
const CSV_EMOTIONS: Record<string, Emotion> = {
  ...Object.fromEntries(EMOTIONS.map((e) => [e, e])),
  anger: 'angry',
  ang: 'angry',
  disgusted: 'disgust',
  dis: 'disgust',
  fearful: 'fear',
  afraid: 'fear',
  fea: 'fear',
  happiness: 'happy',
  joy: 'happy',
  hap: 'happy',
  neu: 'neutral',
  surprised: 'surprise',
  ps: 'surprise',
  pleasant_surprise: 'surprise',
  sadness: 'sad',
};

export function csvEmotion(label: string): Emotion | undefined {
  return CSV_EMOTIONS[
    label
      .trim()
      .toLowerCase()
      .replace(/[\s-]+/g, '_')
  ];
}

export interface LabelsCsvIssues {
  /** Rows whose emotion is none of ours (e.g. calm, boredom): not used. */
  unknownLabels: Array<{ path: string; label: string }>;
  /** Rows naming a file that is not there (or not audio), and rows without path and emotion. */
  invalidRows: Array<{ row: number; path: string; reason: string }>;
}

/**
 * Reads `<folder>/labels.csv`: `path,emotion[,speaker]`, paths relative to the folder, an optional header
 * row starting with `path`. Without a speaker column, the folder is one speaker (`csv:<folder>`).
 */
async function readLabelsCsv(root: string, folder: string, issues: LabelsCsvIssues): Promise<Clip[]> {
  const rows = parseCsv(await readFile(join(folder, LABELS_CSV)), {
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
  }) as string[][];
  const name = relative(root, folder).split('\\').join('/') || '.';
  const clips: Clip[] = [];
  for (const [index, row] of rows.entries()) {
    const [path = '', label = '', speaker = ''] = row;
    if (index === 0 && path.toLowerCase() === 'path') continue;
    const where = `${name}/${path}`;
    const full = resolve(folder, path);
    if (!path || !label) {
      issues.invalidRows.push({ row: index + 1, path: where, reason: 'needs path and emotion' });
      continue;
    }
    const inside = !relative(folder, full).startsWith('..');
    const info = inside ? await stat(full).catch(() => undefined) : undefined;
    if (!info?.isFile() || !AUDIO_EXTENSIONS.has(extname(full).toLowerCase())) {
      issues.invalidRows.push({
        row: index + 1,
        path: where,
        reason: inside ? 'no such audio file' : 'outside the folder',
      });
      continue;
    }
    const emotion = csvEmotion(label);
    if (!emotion) {
      issues.unknownLabels.push({ path: where, label });
      continue;
    }
    const who = speaker ? `${name}/${speaker}` : name;
    clips.push({
      path: full,
      corpus: 'csv',
      speaker: `csv:${who}`,
      text: basename(path, extname(path)),
      emotion,
    });
  }
  return clips;
}

export interface DatasetScan {
  root: string;
  clips: Clip[];
  /** Files recognised but not used, by reason (e.g. `ravdess calm`). */
  skipped: Record<string, number>;
  /** Audio files whose names match no known corpus (and no labels.csv labels them). */
  unrecognised: string[];
  /** Problems of the labels.csv files found. */
  labelsCsv: LabelsCsvIssues;
}

/**
 * Why a folder gave no clip. Labelled clips of corpora left out of `corpora` are what is missing more
 * often than names or a labels.csv (`npm run train` selects TESS unless told): then it says which to select.
 */
function noLabelledClips(
  dir: string,
  found: { files: string[]; csvFolders: string[] },
  corpora: readonly Corpus[] | undefined,
  scan: Pick<DatasetScan, 'skipped' | 'unrecognised'>,
): DatasetError {
  const wanted = corpora ? ` of ${corpora.join(', ')}` : '';
  const unselected = Object.entries(scan.skipped).flatMap(([reason, count]) => {
    const corpus = /^not selected: (\w+)$/.exec(reason)?.[1];
    return corpus ? [{ corpus, count }] : [];
  });
  if (unselected.length > 0) {
    const held = unselected.map(({ corpus, count }) =>
      corpus === 'csv' ? `${count} clips labelled by a labels.csv (csv)` : `${count} clips of ${corpus}`,
    );
    const names = unselected.map((u) => u.corpus).join(',');
    return new DatasetError(
      `Dataset folder ${dir} has no labelled clips${wanted}, the corpora selected; it holds ${held.join(' and ')}: ` +
        `select them with --corpora ${names} (or --corpora ${[...(corpora ?? []), names].join(',')})`,
    );
  }
  const examples = scan.unrecognised.slice(0, 3).join(', ');
  return new DatasetError(
    `Dataset folder ${dir} has ${found.files.length} audio files and ${found.csvFolders.length} labels.csv folders but no labelled clips${wanted}: ` +
      `names must follow TESS (OAF_back_angry.wav), RAVDESS (03-01-05-01-01-01-07.wav), EMO-DB (03a01Wa.wav) ` +
      `or CREMA-D (1001_DFA_ANG_XX.wav), or a folder needs a labels.csv (path,emotion[,speaker])` +
      `${examples ? `; e.g. unrecognised: ${examples}` : ''}`,
  );
}

/**
 * Finds every labelled clip under `root` (any depth, so a Kaggle zip's nested folder or a folder holding
 * several corpora both work), optionally only of `corpora`. Throws a `DatasetError` that says what is
 * wrong for a missing, empty or unrecognised folder.
 */
export async function scanDataset(root: string, corpora?: readonly Corpus[]): Promise<DatasetScan> {
  const dir = resolve(root);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new DatasetError(`Dataset folder ${dir} does not exist (set --data or SER_DATASET_DIR)`);
  }
  const found = { files: [] as string[], csvFolders: [] as string[] };
  await walk(dir, found);
  const { files, csvFolders } = found;
  if (files.length === 0 && csvFolders.length === 0) {
    throw new DatasetError(
      `Dataset folder ${dir} holds no audio files (${[...AUDIO_EXTENSIONS].join(', ')})`,
    );
  }
  const clips: Clip[] = [];
  const skipped: Record<string, number> = {};
  const unrecognised: string[] = [];
  const labelsCsv: LabelsCsvIssues = { unknownLabels: [], invalidRows: [] };
  for (const folder of csvFolders) {
    const labelled = await readLabelsCsv(dir, folder, labelsCsv);
    if (!corpora || corpora.includes('csv')) clips.push(...labelled);
    else if (labelled.length)
      skipped['not selected: csv'] = (skipped['not selected: csv'] ?? 0) + labelled.length;
  }
  for (const path of files) {
    const parsed = parseClipName(path);
    if (!parsed) unrecognised.push(relative(dir, path));
    else if ('skipped' in parsed) skipped[parsed.skipped] = (skipped[parsed.skipped] ?? 0) + 1;
    else if (!corpora || corpora.includes(parsed.corpus)) clips.push({ path, ...parsed });
    else skipped[`not selected: ${parsed.corpus}`] = (skipped[`not selected: ${parsed.corpus}`] ?? 0) + 1;
  }
  if (clips.length === 0) throw noLabelledClips(dir, found, corpora, { skipped, unrecognised });
  return { root: dir, clips, skipped, unrecognised, labelsCsv };
}

/** What a scan and the decoder left out, as a training job's `datasetSummary` lists it. */
export interface DatasetProblems {
  /** Whole counts; the lists below hold only the first few. */
  counts: { unknownLabels: number; invalidRows: number; unreadable: number; unrecognised: number };
  unknownLabels: LabelsCsvIssues['unknownLabels'];
  invalidRows: LabelsCsvIssues['invalidRows'];
  /** Files the decoder refused. */
  unreadable: Array<{ path: string; error: string }>;
  unrecognised: string[];
  skipped: Record<string, number>;
}

/**
 * The one account of what could not be used (the job records it, `npm run train` prints it): whole
 * counts, and the first `cap` of each list.
 */
export function datasetProblems(
  scan: DatasetScan,
  unreadable: DatasetProblems['unreadable'],
  cap: number,
): DatasetProblems {
  const { unknownLabels, invalidRows } = scan.labelsCsv;
  return {
    counts: {
      unknownLabels: unknownLabels.length,
      invalidRows: invalidRows.length,
      unreadable: unreadable.length,
      unrecognised: scan.unrecognised.length,
    },
    unknownLabels: unknownLabels.slice(0, cap),
    invalidRows: invalidRows.slice(0, cap),
    unreadable: unreadable.slice(0, cap),
    unrecognised: scan.unrecognised.slice(0, cap),
    skipped: scan.skipped,
  };
}

/** One line per kind of problem: its count, what it is (the job's field name) and its listed examples. */
export function datasetProblemLines(problems: DatasetProblems): string[] {
  const line = (count: number, what: string, examples: string[]) =>
    count === 0
      ? []
      : [
          `not used: ${count} ${what}: ${examples.join(', ')}${count > examples.length ? ` and ${count - examples.length} more` : ''}`,
        ];
  const { counts } = problems;
  const skipped = Object.entries(problems.skipped);
  return [
    ...line(
      counts.invalidRows,
      'labels.csv row(s) naming no audio file (invalidRows)',
      problems.invalidRows.map((r) => `row ${r.row} ${r.path} (${r.reason})`),
    ),
    ...line(
      counts.unknownLabels,
      'labels.csv row(s) with an emotion that is not ours (unknownLabels)',
      problems.unknownLabels.map((r) => `${r.path} (${r.label})`),
    ),
    ...line(
      counts.unreadable,
      'file(s) the decoder refused (unreadable)',
      problems.unreadable.map((f) => `${f.path} (${f.error})`),
    ),
    ...line(
      counts.unrecognised,
      'audio file(s) no name scheme or labels.csv labels (unrecognised)',
      problems.unrecognised,
    ),
    // Counted by reason, every reason listed.
    ...(skipped.length === 0
      ? []
      : [
          `not used: ${skipped.reduce((sum, [, n]) => sum + n, 0)} clip(s) recognised but left out (skipped): ${skipped.map(([reason, n]) => `${reason} ${n}`).join(', ')}`,
        ]),
  ];
}

export function parseCorpora(value: string): Corpus[] {
  const names = value
    .split(',')
    .map((s) =>
      s
        .trim()
        .toLowerCase()
        .replace(/[^a-z]/g, ''),
    )
    .filter(Boolean);
  for (const name of names) {
    if (!(CORPORA as readonly string[]).includes(name)) {
      throw new DatasetError(`Unknown corpus "${name}"; known: ${CORPORA.join(', ')}`);
    }
  }
  return names as Corpus[];
}
