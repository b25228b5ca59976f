/**
 * The bench's clip set: the committed 3 s clips in bench/clips/ (bench/make-clips.sh) in the formats
 * and rates users send (WAV sources, FLAC, MP3, Ogg Opus, M4A/AAC, WebM/Opus), plus what is derived from them here — 16-bit WAV copies, 48 kHz WAV copies and
 * one 30 s recording (all eight clips one after another with pauses). Every clip is written to a folder
 * so that the Python reference reads exactly the same bytes.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';

const CLIP_DIR = fileURLToPath(new URL('../bench/clips/', import.meta.url));
const PAUSE_SEC = 0.75;
const RECORDING_RATE = 16_000;

export interface BenchClip {
  /** Row of the result table this clip counts towards. */
  group: string;
  name: string;
  bytes: Uint8Array;
  durationSec: number;
  /** Where the clip was written for the Python reference. */
  path: string;
}

/**
 * The table's rows, in print order; `target` is the median budget in ms where one was set;
 * `noPython` says why the Python reference does not run on the row's clips (no ratio is printed).
 */
export const CLIP_GROUPS: { group: string; target?: number; noPython?: string }[] = [
  { group: 'WAV 16 kHz, 3 s (RAVDESS)', target: 2.5 },
  { group: 'WAV 24.4 kHz, 3 s (TESS)', target: 2.5 },
  { group: 'WAV 48 kHz, 3 s', target: 3.5 },
  { group: 'FLAC 24.4 kHz, 3 s (TESS)', target: 4 },
  { group: 'FLAC 16 kHz, 3 s (RAVDESS)', target: 4 },
  { group: 'MP3 44.1 kHz, 3 s' },
  { group: 'Ogg Opus, 3 s' },
  { group: 'M4A (AAC) 44.1 kHz, 3 s', target: 10, noPython: 'soundfile/libsndfile cannot read M4A/AAC' },
  { group: 'WebM Opus, 3 s', noPython: 'soundfile/libsndfile cannot read WebM' },
  { group: 'WAV 16 kHz, 30 s recording' },
];

const toWav = (samples: Float32Array, sampleRate: number): Uint8Array => {
  const pcm = Int16Array.from(samples, (s) => Math.max(-32768, Math.min(32767, Math.round(s * 32768))));
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, sampleRate, '16', pcm);
  return wav.toBuffer();
};

const groupOf = (file: string): string | undefined => {
  if (file.endsWith('.mp3')) return 'MP3 44.1 kHz, 3 s';
  if (file.endsWith('.opus')) return 'Ogg Opus, 3 s';
  if (file.endsWith('.m4a')) return 'M4A (AAC) 44.1 kHz, 3 s';
  if (file.endsWith('.webm')) return 'WebM Opus, 3 s';
  if (file.startsWith('tess-')) return 'FLAC 24.4 kHz, 3 s (TESS)';
  if (file.startsWith('ravdess-')) return 'FLAC 16 kHz, 3 s (RAVDESS)';
  return undefined;
};

/** Loads and derives every clip, writes them to a temporary folder and returns them in table order. */
export async function loadBenchClips(): Promise<{ clips: BenchClip[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-bench-'));
  const files = (await readdir(CLIP_DIR)).sort();
  const clips: Omit<BenchClip, 'path'>[] = [];
  const recording: Float32Array[] = [];
  for (const file of files) {
    const group = groupOf(file);
    if (!group) continue;
    const bytes = new Uint8Array(await readFile(join(CLIP_DIR, file)));
    const decoded = await decodeAudio(bytes);
    clips.push({ group, name: file, bytes, durationSec: decoded.durationSec });
    if (!file.endsWith('.flac')) continue;
    const stem = file.replace(/\.flac$/, '');
    const source = file.startsWith('tess-') ? 'WAV 24.4 kHz, 3 s (TESS)' : 'WAV 16 kHz, 3 s (RAVDESS)';
    clips.push({
      group: source,
      name: `${stem}.wav`,
      bytes: toWav(decoded.samples, decoded.sampleRate),
      durationSec: decoded.durationSec,
    });
    const at48k = resample(decoded.samples, decoded.sampleRate, 48_000);
    clips.push({
      group: 'WAV 48 kHz, 3 s',
      name: `${stem}-48k.wav`,
      bytes: toWav(at48k, 48_000),
      durationSec: decoded.durationSec,
    });
    recording.push(resample(decoded.samples, decoded.sampleRate, RECORDING_RATE));
    recording.push(new Float32Array(Math.round(PAUSE_SEC * RECORDING_RATE)));
  }
  const joined = new Float32Array(recording.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of recording) {
    joined.set(part, offset);
    offset += part.length;
  }
  clips.push({
    group: 'WAV 16 kHz, 30 s recording',
    name: 'recording-30s.wav',
    bytes: toWav(joined, RECORDING_RATE),
    durationSec: joined.length / RECORDING_RATE,
  });
  const order = CLIP_GROUPS.map((g) => g.group);
  clips.sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || a.name.localeCompare(b.name));
  const written = await Promise.all(
    clips.map(async (clip) => {
      const path = join(dir, clip.name);
      await writeFile(path, clip.bytes);
      return { ...clip, path };
    }),
  );
  return { clips: written, dir };
}
