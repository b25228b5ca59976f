import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import { AudioError, isSerError, ModelError } from '../lambdas/core/errors.ts';
import { BUNDLED_MODEL_DIR, createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures');

interface ManifestEntry {
  path: string;
  emotion?: string;
  expectError?: string;
  expectPredictError?: string;
  durationSec: number | null;
}
const manifest: ManifestEntry[] = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8'));
/** TESS calls pleasant surprise `ps`; the model's label is `surprise`. */
const modelLabel = (tessEmotion: string) => (tessEmotion === 'ps' ? 'surprise' : tessEmotion);
const tessClips = manifest.filter((m) => m.emotion && m.path.startsWith('tess/'));
const badInputs = manifest.filter((m) => m.expectError);
const noSpeechInputs = manifest.filter((m) => m.expectPredictError);

let predictor: Predictor;
beforeAll(async () => {
  predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
});
afterAll(async () => {
  await predictor?.release();
});

const read = (path: string) => readFile(join(FIXTURES, path));

/** Encodes mono [-1, 1] samples as a 16-bit WAV. */
function toWav(samples: Float32Array, sampleRate: number): Uint8Array {
  const wav = new wavefile.WaveFile();
  const pcm = Int16Array.from(samples, (s) => Math.max(-32768, Math.min(32767, Math.round(s * 32767))));
  wav.fromScratch(1, sampleRate, '16', pcm);
  return wav.toBuffer();
}

describe('the shipped model on the committed TESS fixtures (training clips: a wiring check)', () => {
  it.each(tessClips.map((c) => [c.path, c.emotion!] as const))('%s is %s', async (path, emotion) => {
    const result = await predictor.predict(await read(path));
    expect(result.emotion).toBe(modelLabel(emotion));
    expect(result.modelVersion).toBe(predictor.modelVersion);
    const total = Object.values(result.probabilities).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 3);
    expect(Object.keys(result.probabilities).sort()).toEqual([...predictor.labels].sort());
    expect(result.confidence).toBe(result.probabilities[result.emotion]);
    expect(result.segments.length).toBeGreaterThanOrEqual(1);
    // A calibrated package flags low confidence exactly below its stated threshold.
    const calibration = predictor.metadata.calibration;
    if (calibration) expect(result.lowConfidence).toBe(result.confidence < calibration.lowConfidenceBelow);
    else expect(result.lowConfidence).toBeUndefined();
  });

  it('reports the source duration and sample rate, not the model rate', async () => {
    const entry = tessClips[0]!;
    const result = await predictor.predict(await read(entry.path));
    expect(result.durationSec).toBeCloseTo(entry.durationSec!, 2);
    expect(result.sampleRate).not.toBe(0);
  });
});

describe('the shipped model on TESS clips it never trained on', () => {
  // One clip per emotion from the model's recorded TESS test set (splits.json), both speakers.
  const dir = join(FIXTURES, 'tess-heldout');
  const clips = readdirSync(dir).filter((f) => f.endsWith('.flac'));
  const emotionOf = (file: string) =>
    modelLabel(
      file
        .replace(/\.flac$/, '')
        .split('_')
        .at(-1)!,
    );

  it('are in the test set the package recorded, by content hash', async () => {
    const splits = JSON.parse(await readFile(join(BUNDLED_MODEL_DIR, 'splits.json'), 'utf8'));
    const testHashes = new Set(
      Object.values(splits.sets as Record<string, Array<{ sha1: string }>>).flatMap((set) =>
        set.map((c) => c.sha1),
      ),
    );
    expect(clips).toHaveLength(7);
    for (const file of clips) {
      const sha1 = createHash('sha1')
        .update(await readFile(join(dir, file)))
        .digest('hex');
      expect(testHashes.has(sha1), file).toBe(true);
    }
  });

  it.each(clips)('%s', async (file) => {
    const result = await predictor.predict(await readFile(join(dir, file)));
    expect(result.emotion).toBe(emotionOf(file));
  });
});

describe('long audio', () => {
  it('follows a 30 s concatenation of different emotions, segment by segment', async () => {
    const order = [
      'angry',
      'sad',
      'happy',
      'neutral',
      'disgust',
      'ps',
      'fear',
      'angry',
      'sad',
      'happy',
      'neutral',
    ];
    const rate = 16_000;
    const gap = new Float32Array(rate); // 1 s pause between utterances
    const parts: Float32Array[] = [];
    const spans: Array<{ startSec: number; endSec: number; emotion: string }> = [];
    let offset = 0;
    for (const emotion of order) {
      const clip = tessClips.find((c) => c.emotion === emotion && c.path.endsWith('.flac'))!;
      const decoded = await decodeAudio(await read(clip.path));
      const samples = resample(decoded.samples, decoded.sampleRate, rate);
      parts.push(samples, gap);
      spans.push({
        startSec: offset / rate,
        endSec: (offset + samples.length) / rate,
        emotion: modelLabel(emotion),
      });
      offset += samples.length + gap.length;
    }
    const all = new Float32Array(offset);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    expect(offset / rate).toBeGreaterThan(30);

    const result = await predictor.predict(toWav(all, rate));
    // Every clip gets the segment that overlaps it most, and that segment names the clip's emotion.
    const overlap = (a: { startSec: number; endSec: number }, b: { startSec: number; endSec: number }) =>
      Math.max(0, Math.min(a.endSec, b.endSec) - Math.max(a.startSec, b.startSec));
    const matched = spans.map((span) => {
      const best = result.segments.reduce((x, y) => (overlap(y, span) > overlap(x, span) ? y : x));
      return best.emotion;
    });
    expect(matched).toEqual(spans.map((s) => s.emotion));
    // Segments are in time order and never score the pauses alone.
    for (let i = 1; i < result.segments.length; i++) {
      expect(result.segments[i]!.startSec).toBeGreaterThanOrEqual(result.segments[i - 1]!.startSec);
    }
  });

  it('ignores leading and trailing silence: padding a clip with 2 s each side keeps its label', async () => {
    const clip = tessClips.find((c) => c.emotion === 'sad')!;
    const decoded = await decodeAudio(await read(clip.path));
    const pad = new Float32Array(2 * decoded.sampleRate);
    const padded = new Float32Array(pad.length * 2 + decoded.samples.length);
    padded.set(decoded.samples, pad.length);
    const result = await predictor.predict(toWav(padded, decoded.sampleRate));
    expect(result.emotion).toBe('sad');
    expect(result.segments[0]!.startSec).toBeGreaterThan(1.5);
  });
  it('flags a prediction made from less than a second of speech as lowConfidence, whatever its confidence', async () => {
    const clip = tessClips.find((c) => c.emotion === 'sad')!;
    const whole = await predictor.predict(await read(clip.path));
    expect(whole.lowConfidence).toBe(false);
    // The middle 0.4 s of the clip: speech, but less than any utterance the model learned from.
    const { samples, sampleRate } = await decodeAudio(await read(clip.path));
    const middle = Math.floor(samples.length / 2);
    const slice = samples.slice(middle - Math.round(0.2 * sampleRate), middle + Math.round(0.2 * sampleRate));
    const short = await predictor.predict(toWav(slice, sampleRate));
    expect(short.lowConfidence).toBe(true);
  });
});

describe('bad input through predict', () => {
  it.each(badInputs.map((b) => [b.path, b.expectError!] as const))('%s → %s', async (path, code) => {
    const error = await predictor.predict(await read(path)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AudioError);
    expect((error as AudioError).code).toBe(code);
    expect((error as AudioError).message.length).toBeGreaterThan(10);
  });

  it.each(noSpeechInputs.map((b) => [b.path, b.expectPredictError!] as const))(
    '%s decodes but holds no voice → %s',
    async (path, code) => {
      const error = await predictor.predict(await read(path)).catch((e: unknown) => e);
      expect(isSerError(error) && error.code).toBe(code);
    },
  );

  it('refuses audio longer than the configured limit', async () => {
    const error = await predictor
      .predict(await read(tessClips[0]!.path), { maxDurationSec: 1 })
      .catch((e) => e);
    expect(isSerError(error) && error.code).toBe('TOO_LONG');
  });
});

describe('model package checks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ser-model-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tamperedPackage = async (name: string, edit: (metadata: Record<string, unknown>) => void) => {
    const target = join(dir, name);
    await cp(BUNDLED_MODEL_DIR, target, { recursive: true });
    const metadata = JSON.parse(await readFile(join(target, 'metadata.json'), 'utf8'));
    edit(metadata);
    await writeFile(join(target, 'metadata.json'), JSON.stringify(metadata));
    return target;
  };

  it('refuses an ONNX file whose sha256 differs from the metadata', async () => {
    const modelDir = await tamperedPackage('bad-sha', (m) => {
      m.sha256 = '0'.repeat(64);
    });
    await expect(createPredictor({ modelDir })).rejects.toThrow(/sha256/);
  });

  it('refuses a feature definition this core does not implement', async () => {
    const modelDir = await tamperedPackage('bad-features', (m) => {
      (m.featureConfig as Record<string, unknown>).definition = 'librosa-mfcc/v1';
    });
    const error = await createPredictor({ modelDir }).catch((e) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toMatch(/featureConfig\.definition/);
  });

  it('refuses a version that cannot name its package (registered, it could never be activated)', async () => {
    const modelDir = await tamperedPackage('bad-version', (m) => {
      m.version = '1.7.0 rc';
    });
    const error = await createPredictor({ modelDir }).catch((e) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toMatch(/version: a model version is 1-64 letters, digits/);
  });

  it('refuses a package whose input dims disagree with its feature config', async () => {
    const modelDir = await tamperedPackage('bad-dims', (m) => {
      (m.input as Record<string, unknown>).dims = 13;
    });
    await expect(createPredictor({ modelDir })).rejects.toThrow(/dims/);
  });

  it('says clearly when there is no package', async () => {
    await expect(createPredictor({ modelDir: join(dir, 'nothing') })).rejects.toThrow(/No model package/);
  });
});

describe('ser CLI', () => {
  const run = promisify(execFile);
  const ser = (...args: string[]) =>
    run(process.execPath, [join(ROOT, 'bin/ser.js'), ...args], { cwd: ROOT }).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => e,
    );

  it('prints one JSON line per file, walking folders, and exits 0 when all succeed', async () => {
    const { stdout, code } = await ser('predict', '--json', 'test/fixtures/tess');
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(code).toBe(0);
    expect(lines).toHaveLength(tessClips.length);
    for (const line of lines) {
      const clip = tessClips.find((c) => line.file === join('test/fixtures', c.path))!;
      expect(line.emotion).toBe(modelLabel(clip.emotion!));
      expect(Object.keys(line).sort()).toEqual(
        [
          'confidence',
          'durationSec',
          'emotion',
          'file',
          'probabilities',
          'segments',
          ...(predictor.metadata.calibration ? ['lowConfidence'] : []),
        ].sort(),
      );
    }
  });

  it('reports each bad file with its typed error, goes on, and exits non-zero', async () => {
    const { stdout, code } = await ser(
      'predict',
      '--json',
      'test/fixtures/bad',
      'test/fixtures/tess/OAF_back_sad.flac',
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(code).not.toBe(0);
    for (const bad of [...badInputs, ...noSpeechInputs]) {
      const line = lines.find((l) => l.file === join('test/fixtures', bad.path));
      expect(line?.error?.code, bad.path).toBe(bad.expectError ?? bad.expectPredictError);
    }
    expect(lines.at(-1)).toMatchObject({ file: 'test/fixtures/tess/OAF_back_sad.flac', emotion: 'sad' });
  });

  it('prints a readable table with the top three emotions', async () => {
    const { stdout } = await ser('predict', 'test/fixtures/tess/OAF_bath_angry.flac');
    const [header, row] = stdout.trim().split('\n');
    expect(header).toMatch(/file\s+emotion\s+confidence\s+top 3/);
    expect(row).toMatch(
      /OAF_bath_angry\.flac\s+angry\s+\d+\.\d%\s+angry \d+\.\d%, \w+ \d+\.\d%, \w+ \d+\.\d%/,
    );
  });

  it('aligns the table by display width, so a file named in CJK does not shift its row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ser-wide-'));
    try {
      // 怒り takes four terminal cells in two UTF-16 units; its row's columns must start two units earlier.
      await cp('test/fixtures/tess/OAF_bath_angry.flac', join(dir, '怒り.flac'));
      await cp('test/fixtures/tess/OAF_bath_angry.flac', join(dir, 'angry.flac'));
      const { stdout } = await ser('predict', join(dir, '怒り.flac'), join(dir, 'angry.flac'));
      const [header, wide, ascii] = stdout.trim().split('\n') as [string, string, string];
      const column = header.indexOf('emotion');
      expect(ascii.indexOf(' angry ') + 1).toBe(column);
      expect(wide.indexOf(' angry ') + 1 + 2).toBe(column);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
