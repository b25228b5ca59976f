/**
 * Writes the audio test fixtures and `test/fixtures/manifest.json`. The outputs are committed; CI never
 * runs this. Run with `npx tsx scripts/generate-fixtures.ts` on a machine with the Debian packages
 * `sox flac lame opus-tools vorbis-tools ffmpeg` (`apt-get install -y sox flac lame opus-tools vorbis-tools ffmpeg`).
 *
 * - test/fixtures/tess/: real TESS clips from the dataset root's `tess/` (`SER_DATASET_DIR`, default
 *   `../shared/datasets`) copied as-is (one per emotion, both speakers, incl. the 96 kHz one and an AIFF
 *   file named .wav). TESS is CC BY-NC-ND 4.0 (Dupuis & Pichora-Fuller, 2010).
 * - test/fixtures/generated/: one TESS clip (1 s of speech) in every encoding we decode.
 * - test/fixtures/bad/: inputs that must fail with a given AudioError code (or decode, where noted).
 * The manifest's sample counts for lossless files come from ffprobe (an independent decoder); for lossy
 * files `frames` is the encoder input's length at the decoded rate (codecs may differ by a frame).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDatasetDir } from '../training/datasets.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test/fixtures');
const tessSource = join(defaultDatasetDir(), 'tess');
const work = join(root, '.fixtures-tmp');

type Format = 'wav' | 'aiff' | 'mp3' | 'ogg-vorbis' | 'ogg-opus' | 'flac' | 'mp4' | 'webm';

interface ManifestEntry {
  path: string;
  format: Format | null;
  sampleRate: number | null;
  channels: number | null;
  durationSec: number | null;
  /** Sample frames at `sampleRate` (exact for lossless files, the encoder input's length for lossy ones). */
  frames: number | null;
  lossless: boolean;
  /** For lossless files: a 16/24-bit WAV whose (mono-averaged) samples this file must decode to. */
  reference?: string;
  /** Scale applied to the reference's mono mix for this file (channel mixes made with gains). */
  referenceGain?: number;
  /** MP4/WebM: the length the container itself declares (ffprobe), which decoding must reach. */
  containerDurationSec?: number;
  expectError?: 'UNSUPPORTED_FORMAT' | 'CORRUPT_AUDIO' | 'EMPTY_AUDIO' | 'TOO_LONG' | 'TOO_LARGE';
  /** Decodes fine, but `predict` must refuse it with this code (e.g. NO_SPEECH for noise). */
  expectPredictError?: 'NO_SPEECH';
  emotion?: string;
  speaker?: string;
  note?: string;
}

const manifest: ManifestEntry[] = [];
const run = (command: string, args: string[]): string => execFileSync(command, args, { encoding: 'utf8' });
const rel = (path: string): string => relative(fixtures, path);

const probe = (path: string): { sampleRate: number; channels: number; frames: number } => {
  const json = JSON.parse(
    run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=sample_rate,channels,duration_ts',
      '-of',
      'json',
      path,
    ]),
  ) as { streams: { sample_rate: string; channels: number; duration_ts: number }[] };
  const stream = json.streams[0]!;
  return { sampleRate: Number(stream.sample_rate), channels: stream.channels, frames: stream.duration_ts };
};

const addLossless = (path: string, format: Format, extra: Partial<ManifestEntry> = {}): void => {
  const { sampleRate, channels, frames } = probe(path);
  manifest.push({
    path: rel(path),
    format,
    sampleRate,
    channels,
    durationSec: frames / sampleRate,
    frames,
    lossless: true,
    ...extra,
  });
};

// --- TESS clips, as-is -------------------------------------------------------------------------------
const tessDir = join(fixtures, 'tess');
const tessClips: [string, string, string][] = [
  ['OAF_angry/OAF_bath_angry.flac', 'angry', 'OAF'],
  ['YAF_disgust/YAF_back_disgust.flac', 'disgust', 'YAF'],
  ['OAF_Fear/OAF_food_fear.flac', 'fear', 'OAF'], // the 96 kHz clip
  ['YAF_happy/YAF_back_happy.flac', 'happy', 'YAF'],
  ['OAF_neutral/OAF_back_neutral.flac', 'neutral', 'OAF'],
  ['YAF_pleasant_surprised/YAF_back_ps.flac', 'ps', 'YAF'],
  ['OAF_Sad/OAF_back_sad.flac', 'sad', 'OAF'],
  ['YAF_fear/YAF_neat_fear.wav', 'fear', 'YAF'], // AIFF with a .wav name, as distributed
];
rmSync(work, { recursive: true, force: true });
for (const dir of [tessDir, join(fixtures, 'generated'), join(fixtures, 'bad'), work])
  mkdirSync(dir, { recursive: true });
for (const [source, emotion, speaker] of tessClips) {
  const target = join(tessDir, source.split('/')[1]!);
  copyFileSync(join(tessSource, source), target);
  chmodSync(target, 0o644); // the dataset is read-only; the copies are ours to regenerate
  const format: Format = target.endsWith('.flac') ? 'flac' : 'aiff';
  addLossless(target, format, {
    emotion,
    speaker,
    note: format === 'aiff' ? 'AIFF file named .wav, byte-for-byte as TESS distributes it' : undefined,
  });
}

// --- Generated encodings of one clip ---------------------------------------------------------------
const gen = (name: string): string => join(fixtures, 'generated', name);
const sox = (args: string[]): string => run('sox', ['-D', ...args]); // -D: no dither, so conversions are exact
const reference16 = gen('pcm16.wav');
sox([join(tessSource, 'OAF_angry/OAF_bath_angry.flac'), '-b', '16', reference16, 'trim', '0.3', '1.0']);
addLossless(reference16, 'wav', { reference: rel(reference16) });
const reference24 = gen('pcm24.wav');

const wavVariants: [string, string[], Partial<ManifestEntry>][] = [
  ['pcm8.wav', ['-b', '8', '-e', 'unsigned-integer'], { note: '8-bit unsigned: reference within 1/128' }],
  ['pcm24.wav', ['-b', '24', '-e', 'signed-integer'], {}],
  ['pcm32.wav', ['-b', '32', '-e', 'signed-integer'], {}],
  ['float32.wav', ['-b', '32', '-e', 'floating-point'], {}],
  ['float64.wav', ['-b', '64', '-e', 'floating-point'], {}],
  ['alaw.wav', ['-b', '8', '-e', 'a-law'], { note: 'G.711 A-law: reference within companding error' }],
  ['mulaw.wav', ['-b', '8', '-e', 'u-law'], { note: 'G.711 µ-law: reference within companding error' }],
];
for (const [name, args, extra] of wavVariants) {
  sox([reference16, ...args, gen(name)]);
  addLossless(gen(name), 'wav', { reference: rel(reference16), ...extra });
}
// Channel layouts and rates (sox `remix`: channel gains, so the expected mono mix is known).
sox([reference16, '-b', '16', gen('stereo-48k.wav'), 'remix', '1', '1v0.5', 'rate', '-v', '48000']);
addLossless(gen('stereo-48k.wav'), 'wav', { note: 'L = clip, R = clip × 0.5, resampled to 48 kHz' });
sox([reference16, '-r', '8000', '-b', '8', '-e', 'u-law', gen('mulaw-8k.wav')]);
addLossless(gen('mulaw-8k.wav'), 'wav', { note: 'telephone: 8 kHz µ-law' });
sox([
  reference16,
  '-b',
  '16',
  gen('6ch-16k.wav'),
  'remix',
  '1',
  '1v0.8',
  '1v0.6',
  '1v0.4',
  '1v0.2',
  '0',
  'rate',
  '16000',
]);
addLossless(gen('6ch-16k.wav'), 'wav', {
  note: '6 channels with gains 1, .8, .6, .4, .2, 0 (mono mix = 0.5 × clip)',
});
// AIFF: big-endian PCM (sox), AIFF-C 'sowt' little-endian (ffmpeg).
// ffmpeg with bitexact: sox stamps the time into an AIFF comment chunk, so its output changes every run.
const ffmpeg = (args: string[]): string => run('ffmpeg', ['-v', 'error', '-y', ...args]);
ffmpeg([
  '-i',
  reference16,
  '-fflags',
  '+bitexact',
  '-map_metadata',
  '-1',
  '-c:a',
  'pcm_s16be',
  gen('pcm16.aiff'),
]);
addLossless(gen('pcm16.aiff'), 'aiff', { reference: rel(reference16) });
ffmpeg([
  '-i',
  reference16,
  '-fflags',
  '+bitexact',
  '-map_metadata',
  '-1',
  '-c:a',
  'pcm_s16le',
  '-f',
  'aiff',
  gen('sowt.aifc'),
]);
addLossless(gen('sowt.aifc'), 'aiff', {
  reference: rel(reference16),
  note: "AIFF-C 'sowt' (little-endian PCM)",
});
// FLAC: the reference encoder at 16 and 24 bits, and sox's encoder (whose files lose a short final frame in the decoder; docs/dependencies.md).
run('flac', ['-s', '-f', '-8', '-o', gen('pcm16.flac'), reference16]);
addLossless(gen('pcm16.flac'), 'flac', { reference: rel(reference16) });
run('flac', ['-s', '-f', '-5', '-o', gen('pcm24.flac'), reference24]);
addLossless(gen('pcm24.flac'), 'flac', { reference: rel(reference24) });
sox([reference16, gen('sox.flac')]);
addLossless(gen('sox.flac'), 'flac', { reference: rel(reference16), note: 'encoded by sox' });

// Lossy: `frames` is the encoder input's length at the decoded rate; tests allow one codec frame.
const lossy = (path: string, format: Format, sampleRate: number, frames: number, note: string): void => {
  manifest.push({
    path: rel(path),
    format,
    sampleRate,
    channels: 1,
    durationSec: frames / sampleRate,
    frames,
    lossless: false,
    note,
  });
};
const input44k = join(work, 'in-44k.wav');
sox([reference16, '-b', '16', input44k, 'rate', '44100']);
run('lame', [
  '--quiet',
  '-m',
  'm',
  '-b',
  '64',
  '--add-id3v2',
  '--tt',
  'SER fixture',
  input44k,
  gen('mono-44k.mp3'),
]);
lossy(
  gen('mono-44k.mp3'),
  'mp3',
  44100,
  probe(input44k).frames,
  'LAME CBR 64 kb/s mono, ID3v2 tag and Info header',
);
const input16k = join(work, 'in-16k.wav');
sox([reference16, '-b', '16', input16k, 'rate', '16000']);
run('oggenc', ['--quiet', '--serial', '1', '-q', '3', '-o', gen('vorbis-16k.ogg'), input16k]);
lossy(gen('vorbis-16k.ogg'), 'ogg-vorbis', 16000, probe(input16k).frames, 'Vorbis q3, 16 kHz mono');
const input48k = join(work, 'in-48k.wav');
sox([reference16, '-b', '16', input48k, 'rate', '48000']);
run('opusenc', ['--quiet', '--serial', '1', '--bitrate', '32', input48k, gen('opus-48k.opus')]);
lossy(
  gen('opus-48k.opus'),
  'ogg-opus',
  48000,
  probe(input48k).frames,
  'Opus 32 kb/s (always decoded at 48 kHz)',
);

// MP4/M4A/MOV and WebM/Matroska (ffmpeg), bit-exact so reruns write the same bytes. The video files
// carry a tiny video track first: the decoder must take the first *audio* track.
const FFMPEG_BITEXACT = ['-map_metadata', '-1', '-fflags', '+bitexact', '-flags', '+bitexact'];
const TINY_VIDEO = ['-f', 'lavfi', '-i', 'color=c=gray:s=16x16:r=5:d=1'];
const containerVariants: [string, Format, string, string[], string][] = [
  ['aac-44k.m4a', 'mp4', input44k, ['-c:a', 'aac', '-b:a', '64k'], 'AAC-LC 64 kb/s in M4A (moov after mdat)'],
  [
    'aac-faststart-44k.mp4',
    'mp4',
    input44k,
    ['-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart'],
    'AAC-LC in MP4, moov first (+faststart)',
  ],
  ['aac-48k.mov', 'mp4', input48k, ['-c:a', 'aac', '-b:a', '64k'], 'AAC-LC in a QuickTime MOV'],
  ['opus-48k.mp4', 'mp4', input48k, ['-c:a', 'libopus', '-b:a', '32k'], 'Opus in MP4'],
  ['mp3-44k.mp4', 'mp4', input44k, ['-c:a', 'libmp3lame', '-b:a', '64k'], 'MP3 in MP4'],
  ['opus-48k.webm', 'webm', input48k, ['-c:a', 'libopus', '-b:a', '32k'], 'Opus in WebM'],
  ['vorbis-16k.mkv', 'webm', input16k, ['-c:a', 'libvorbis', '-q:a', '3'], 'Vorbis in Matroska'],
  [
    'video-aac-44k.mp4',
    'mp4',
    input44k,
    [...TINY_VIDEO, '-c:v', 'mpeg4', '-c:a', 'aac', '-b:a', '64k', '-map', '1:v', '-map', '0:a'],
    'video track first, then AAC-LC audio',
  ],
  [
    'video-opus-48k.webm',
    'webm',
    input48k,
    [...TINY_VIDEO, '-c:v', 'libvpx', '-c:a', 'libopus', '-b:a', '32k', '-map', '1:v', '-map', '0:a'],
    'VP8 video track first, then Opus audio',
  ],
];
/** The audio track's declared duration as ffprobe reads it (WebM has none per track: the segment's). */
const containerDuration = (path: string): number => {
  const ask = (entries: string) =>
    run('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'a:0',
      '-show_entries',
      entries,
      '-of',
      'csv=p=0',
      path,
    ])
      .trim()
      .replace(/,$/, '');
  const track = Number(ask('stream=duration'));
  return Number.isFinite(track) ? track : Number(ask('format=duration'));
};
for (const [name, format, input, args, note] of containerVariants) {
  ffmpeg(['-i', input, ...args, ...FFMPEG_BITEXACT, gen(name)]);
  lossy(gen(name), format, probe(input).sampleRate, probe(input).frames, note);
  manifest.at(-1)!.containerDurationSec = containerDuration(gen(name));
  // mpg123 decodes mono MP3 as two identical channels, and an MP4 header cannot tell us otherwise.
  if (name.startsWith('mp3-')) manifest.at(-1)!.channels = 2;
}

// --- TESS clips the model never trained on, in the containers phones and browsers write -------------
const tessFormats: [string, string, string, number, string[]][] = [
  ['OAF_boat_sad', 'sad', 'm4a', 44100, ['-c:a', 'aac', '-b:a', '64k']],
  ['YAF_burn_happy', 'happy', 'webm', 48000, ['-c:a', 'libopus', '-b:a', '32k']],
  ['OAF_bar_angry', 'angry', 'mkv', 16000, ['-c:a', 'libvorbis', '-q:a', '3']],
  ['YAF_base_disgust', 'disgust', 'mov', 48000, ['-c:a', 'aac', '-b:a', '64k']],
  [
    'OAF_back_fear',
    'fear',
    'mp4',
    44100,
    [...TINY_VIDEO.slice(0, -1), 'color=c=gray:s=16x16:r=5:d=3', '-c:v', 'mpeg4', '-c:a', 'aac', '-shortest'],
  ],
];
mkdirSync(join(fixtures, 'tess-formats'), { recursive: true });
for (const [clip, emotion, extension, rate, args] of tessFormats) {
  const input = join(work, `${clip}-${rate}.wav`);
  sox([join(fixtures, 'tess-heldout', `${clip}.flac`), '-b', '16', input, 'rate', String(rate)]);
  const target = join(fixtures, 'tess-formats', `${clip}.${extension}`);
  const video = args.includes('-c:v');
  ffmpeg([
    '-i',
    input,
    ...args,
    ...(video ? ['-map', '1:v', '-map', '0:a'] : []),
    ...FFMPEG_BITEXACT,
    target,
  ]);
  const format: Format = ['webm', 'mkv'].includes(extension) ? 'webm' : 'mp4';
  lossy(target, format, rate, probe(input).frames, `TESS held-out clip, ${args.join(' ')}`);
  Object.assign(manifest.at(-1)!, {
    emotion,
    speaker: clip.slice(0, 3),
    containerDurationSec: containerDuration(target),
  });
}

// --- Bad inputs -----------------------------------------------------------------------------------
const bad = (name: string): string => join(fixtures, 'bad', name);
const wavHeader = (o: {
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  dataBytes: number;
}): Buffer => {
  const { formatTag = 1, channels = 1, sampleRate = 16000, bits = 16, dataBytes } = o;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(formatTag, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE((sampleRate * channels * bits) / 8, 28);
  header.writeUInt16LE((channels * bits) / 8, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
};
const addBad = (
  path: string,
  format: Format | null,
  expectError: ManifestEntry['expectError'],
  note: string,
): void => {
  manifest.push({
    path: rel(path),
    format,
    sampleRate: null,
    channels: null,
    durationSec: null,
    frames: null,
    lossless: false,
    expectError,
    note,
  });
};
/** Deterministic bytes (xorshift) so the fixture never changes between runs. */
const pseudoRandom = (length: number, seed: number): Buffer => {
  const bytes = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
};
const tone = (frames: number, amplitude: number): Buffer => {
  const pcm = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++)
    pcm.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);
  return pcm;
};

const ref16 = readFileSync(reference16);
writeFileSync(bad('truncated.wav'), ref16.subarray(0, Math.floor(ref16.length / 2)));
addBad(
  bad('truncated.wav'),
  'wav',
  'CORRUPT_AUDIO',
  'first half of a valid WAV: data chunk declares more than the file holds',
);
writeFileSync(bad('empty.wav'), Buffer.alloc(0));
addBad(bad('empty.wav'), null, 'EMPTY_AUDIO', '0 bytes');
writeFileSync(bad('header-only.wav'), wavHeader({ dataBytes: 0 }));
addBad(bad('header-only.wav'), 'wav', 'EMPTY_AUDIO', '44-byte header, data chunk of 0 bytes');
writeFileSync(bad('random-bytes.wav'), pseudoRandom(4096, 0x2545f491));
addBad(bad('random-bytes.wav'), null, 'UNSUPPORTED_FORMAT', '4 KiB of pseudo-random bytes named .wav');
writeFileSync(bad('claims-2gb.wav'), wavHeader({ dataBytes: 0x7fffffff }));
addBad(
  bad('claims-2gb.wav'),
  'wav',
  'TOO_LONG',
  'header declares 2 GB of 16 kHz PCM (67 108 s) in a 44-byte file: refused from the header',
);
writeFileSync(
  bad('eleven-minutes.wav'),
  Buffer.concat([wavHeader({ dataBytes: 11 * 60 * 16000 * 2 }), tone(1600, 0.5)]),
);
addBad(
  bad('eleven-minutes.wav'),
  'wav',
  'TOO_LONG',
  'header declares 11 minutes, file holds 0.1 s: refused from the header',
);
writeFileSync(
  bad('zero-channels.wav'),
  Buffer.concat([wavHeader({ channels: 0, dataBytes: 3200 }), tone(1600, 0.5)]),
);
addBad(bad('zero-channels.wav'), 'wav', 'CORRUPT_AUDIO', 'fmt chunk declares 0 channels');
writeFileSync(
  bad('rate-1hz.wav'),
  Buffer.concat([wavHeader({ sampleRate: 1, dataBytes: 3200 }), tone(1600, 0.5)]),
);
addBad(bad('rate-1hz.wav'), 'wav', 'CORRUPT_AUDIO', 'fmt chunk declares a 1 Hz sample rate');
const nanData = Buffer.alloc(1600 * 4);
for (let i = 0; i < 1600; i++) nanData.writeFloatLE(i === 800 ? Number.NaN : 0.25 * Math.sin(i / 5), i * 4);
writeFileSync(
  bad('nan-float.wav'),
  Buffer.concat([wavHeader({ formatTag: 3, bits: 32, dataBytes: nanData.length }), nanData]),
);
addBad(
  bad('nan-float.wav'),
  'wav',
  'CORRUPT_AUDIO',
  'float32 WAV with a NaN sample: NaN/Inf are treated as corrupt data',
);
writeFileSync(
  bad('unsupported-adpcm.wav'),
  Buffer.concat([wavHeader({ formatTag: 0x11, bits: 4, dataBytes: 800 }), pseudoRandom(800, 7)]),
);
addBad(
  bad('unsupported-adpcm.wav'),
  'wav',
  'UNSUPPORTED_FORMAT',
  'IMA ADPCM WAV (encoding 0x0011): a WAV we do not decode',
);
const cut = (source: string, name: string, fraction: number, format: Format, note: string): void => {
  const bytes = readFileSync(source);
  writeFileSync(bad(name), bytes.subarray(0, Math.floor(bytes.length * fraction)));
  addBad(bad(name), format, 'CORRUPT_AUDIO', note);
};
cut(
  gen('mono-44k.mp3'),
  'truncated.mp3',
  0.5,
  'mp3',
  'first half of an MP3 whose Info header declares the frame count',
);
cut(
  gen('vorbis-16k.ogg'),
  'truncated.ogg',
  0.6,
  'ogg-vorbis',
  'first 60% of an Ogg Vorbis file: no end-of-stream page',
);
cut(
  gen('opus-48k.opus'),
  'truncated.opus',
  0.6,
  'ogg-opus',
  'first 60% of an Ogg Opus file: no end-of-stream page',
);
cut(
  gen('pcm16.flac'),
  'truncated.flac',
  0.5,
  'flac',
  'first half of a FLAC file: fewer samples than STREAMINFO declares',
);
cut(gen('aac-44k.m4a'), 'truncated.m4a', 0.6, 'mp4', 'first 60% of an M4A: mdat cut off, no moov');
cut(gen('aac-faststart-44k.mp4'), 'truncated.mp4', 0.6, 'mp4', 'first 60% of a +faststart MP4: mdat cut off');
cut(gen('opus-48k.webm'), 'truncated.webm', 0.6, 'webm', 'first 60% of a WebM: its segment is cut off');
cut(gen('vorbis-16k.mkv'), 'truncated.mkv', 0.6, 'webm', 'first 60% of a Matroska file: segment cut off');
/** The container's header kept whole, its audio frames overwritten with pseudo-random bytes. */
const scrambleAfter = (source: string, name: string, keep: number, format: Format, note: string): void => {
  const bytes = Buffer.from(readFileSync(source));
  pseudoRandom(bytes.length - keep, 7).copy(bytes, keep);
  writeFileSync(bad(name), bytes);
  addBad(bad(name), format, 'CORRUPT_AUDIO', note);
};
const faststart = readFileSync(gen('aac-faststart-44k.mp4'));
scrambleAfter(
  gen('aac-faststart-44k.mp4'),
  'garbage-aac.mp4',
  faststart.indexOf('mdat') + 4,
  'mp4',
  'valid moov, AAC frames replaced by pseudo-random bytes',
);
const webmBytes = readFileSync(gen('opus-48k.webm'));
scrambleAfter(
  gen('opus-48k.webm'),
  'garbage-opus.webm',
  webmBytes.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75])) + 64,
  'webm',
  'valid WebM header and first cluster start, then pseudo-random bytes',
);
const flac = readFileSync(gen('pcm16.flac'));
writeFileSync(bad('garbage-frames.flac'), Buffer.concat([flac.subarray(0, 8 + 34), pseudoRandom(8000, 99)]));
addBad(
  bad('garbage-frames.flac'),
  'flac',
  'CORRUPT_AUDIO',
  'valid fLaC + STREAMINFO followed by pseudo-random bytes',
);
writeFileSync(
  bad('html.mp3'),
  '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not found</body></html>\n',
);
addBad(bad('html.mp3'), null, 'UNSUPPORTED_FORMAT', 'an HTML error page saved as .mp3');
writeFileSync(bad('text.ogg'), 'This is not audio.\n');
addBad(bad('text.ogg'), null, 'UNSUPPORTED_FORMAT', 'plain text named .ogg');

// Valid files that exist for later stages (decode succeeds): no expectError.
writeFileSync(bad('one-sample.wav'), Buffer.concat([wavHeader({ dataBytes: 2 }), Buffer.from([0x00, 0x10])]));
manifest.push({
  path: rel(bad('one-sample.wav')),
  format: 'wav',
  sampleRate: 16000,
  channels: 1,
  durationSec: 1 / 16000,
  frames: 1,
  lossless: true,
  expectPredictError: 'NO_SPEECH',
  note: 'decodes to 1 sample; too short for any feature frame',
});
writeFileSync(bad('silence.wav'), Buffer.concat([wavHeader({ dataBytes: 32000 }), Buffer.alloc(32000)]));
manifest.push({
  path: rel(bad('silence.wav')),
  format: 'wav',
  sampleRate: 16000,
  channels: 1,
  durationSec: 1,
  frames: 16000,
  lossless: true,
  expectPredictError: 'NO_SPEECH',
  note: 'decodes fine: 1 s of digital silence, for NO_SPEECH',
});

// More hostile inputs (decode must stay bounded in time and memory, and say what is wrong).
writeFileSync(
  bad('rate-10mhz.wav'),
  Buffer.concat([wavHeader({ sampleRate: 10_000_000, dataBytes: 3200 }), tone(1600, 0.5)]),
);
addBad(bad('rate-10mhz.wav'), 'wav', 'CORRUPT_AUDIO', 'fmt chunk declares a 10 MHz sample rate');
const infData = Buffer.alloc(1600 * 4);
for (let i = 0; i < 1600; i++) infData.writeFloatLE(i === 100 ? Number.POSITIVE_INFINITY : 0.1, i * 4);
writeFileSync(
  bad('inf-float.wav'),
  Buffer.concat([wavHeader({ formatTag: 3, bits: 32, dataBytes: infData.length }), infData]),
);
addBad(bad('inf-float.wav'), 'wav', 'CORRUPT_AUDIO', 'float32 WAV with an infinite sample');
// One hour of silence in 65535-sample FLAC frames: 84 KB that declares 57.6 M samples.
const hourWav = join(work, 'hour.wav');
sox(['-n', '-r', '16000', '-c', '1', '-b', '16', hourWav, 'trim', '0', '3600']);
run('flac', ['--silent', '--force', '--lax', '--blocksize=65535', '-o', bad('one-hour.flac'), hourWav]);
addBad(
  bad('one-hour.flac'),
  'flac',
  'TOO_LONG',
  '1 hour of 16 kHz silence in 84 KB: refused from STREAMINFO',
);
// The same stream with STREAMINFO's sample count set to 0 ("unknown"): a tiny file that decodes huge,
// which only the decoder's running limit can stop.
const bomb = Buffer.from(readFileSync(bad('one-hour.flac')));
const streamInfo = 8; // after "fLaC" and the 4-byte block header
bomb[streamInfo + 13] = bomb[streamInfo + 13]! & 0xf0;
bomb.fill(0, streamInfo + 14, streamInfo + 18);
writeFileSync(bad('bomb-unknown-length.flac'), bomb);
addBad(
  bad('bomb-unknown-length.flac'),
  'flac',
  'TOO_LONG',
  '84 KB FLAC of unknown length that decodes to 1 hour: stopped while decoding',
);

// Tiny files within the duration limit that declare enormous decoded streams: 590 s of silence at 384 kHz
// (~65 KB) and 192 kHz (~32 KB) in 65535-sample frames. Decoding them whole took 2 GB / 1 GB; the
// decoded-values budget (frames × channels) refuses both from STREAMINFO.
for (const [rate, name] of [
  [384_000, 'silence-384k-590s.flac'],
  [192_000, 'silence-192k-590s.flac'],
] as const) {
  const silence = join(work, `silence-${rate}.wav`);
  sox(['-n', '-r', String(rate), '-c', '1', '-b', '16', silence, 'trim', '0', '590']);
  run('flac', ['--silent', '--force', '--lax', '--blocksize=65535', '-o', bad(name), silence]);
  rmSync(silence);
  addBad(
    bad(name),
    'flac',
    'TOO_LARGE',
    `590 s of silence at ${rate / 1000} kHz: ${(rate * 590) / 1e6} M samples, over the decoded-values budget`,
  );
}

/** A 16 kHz mono WAV that decodes fine but holds no voice: predict must say NO_SPEECH. */
const addNoSpeech = (name: string, samples: (i: number) => number, note: string): void => {
  const frames = 32000;
  const pcm = Buffer.alloc(frames * 2);
  for (let i = 0; i < frames; i++) pcm.writeInt16LE(Math.round(32767 * samples(i)), i * 2);
  writeFileSync(bad(name), Buffer.concat([wavHeader({ dataBytes: pcm.length }), pcm]));
  manifest.push({
    path: rel(bad(name)),
    format: 'wav',
    sampleRate: 16000,
    channels: 1,
    durationSec: 2,
    frames,
    lossless: true,
    expectPredictError: 'NO_SPEECH',
    note,
  });
};
const noise = pseudoRandom(32000, 0x1234567);
addNoSpeech('dc-offset.wav', () => 0.5, '2 s of a constant +0.5 (DC offset only)');
addNoSpeech('clipping-noise.wav', (i) => (noise[i]! & 1 ? 0.99 : -0.99), '2 s of full-scale clipped noise');
addNoSpeech('white-noise.wav', (i) => (noise[i]! - 127.5) / 160, '2 s of white noise');

rmSync(work, { recursive: true, force: true });
writeFileSync(join(fixtures, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
let total = 0;
for (const entry of manifest) {
  const size = statSync(join(fixtures, entry.path)).size;
  total += size;
  if (size > 200_000 && !entry.path.startsWith('tess/'))
    console.warn(`warning: ${entry.path} is ${size} bytes`);
}
console.log(`${manifest.length} fixtures, ${(total / 1e6).toFixed(2)} MB`);
