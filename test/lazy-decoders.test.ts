import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);

/**
 * The MP4/AAC and WebM decoders (ours and the packages behind them) and the FLAC, MP3, Vorbis and Opus
 * decoder packages (lambdas/core/audio/codec-packages.ts): loaded on first use only.
 */
const LAZY_DECODERS = [
  /\/lambdas\/core\/audio\/mp4(-boxes|-fragments|-layout)?\.ts$/,
  /\/lambdas\/core\/audio\/webm\.ts$/,
  /\/lambdas\/core\/audio\/ebml\.ts$/,
  /\/node_modules\/@audio\/decode-mp4\//,
  /\/node_modules\/@audio\/decode-aac\//,
  /\/node_modules\/@audio\/decode-webm\//,
  /\/node_modules\/@wasm-audio-decoders\/(flac|ogg-vorbis)\//,
  /\/node_modules\/(mpg123-decoder|opus-decoder|codec-parser)\//,
];
const lazyAmong = (modules: string[]) => modules.filter((url) => LAZY_DECODERS.some((re) => re.test(url)));

describe('lazily loaded decoders', () => {
  it('a WAV prediction in a fresh process loads no decoder package; FLAC, MP3, Ogg, M4A and WebM files do', async () => {
    // Prepare: a fresh process that records every module it loads (test/helpers/loaded-modules.ts).
    const clips = join(ROOT, 'test/fixtures');
    const args = [
      '--import',
      'tsx',
      'test/helpers/loaded-modules.ts',
      join(clips, 'tess/YAF_neat_fear.wav'),
      join(clips, 'tess-formats/OAF_boat_sad.m4a'),
      join(clips, 'tess-formats/YAF_burn_happy.webm'),
      join(clips, 'generated/pcm16.flac'),
      join(clips, 'generated/mono-44k.mp3'),
      join(clips, 'generated/vorbis-16k.ogg'),
      join(clips, 'generated/opus-48k.opus'),
    ];

    // Act
    const { stdout } = await run(process.execPath, args, { cwd: ROOT });
    const [afterWav, afterOthers] = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));

    // Assess: the WAV path predicted without them; the hook does see them once those formats come.
    expect(afterWav.emotion).toBe('fear');
    expect(afterWav.modules.some((url: string) => url.endsWith('/lambdas/core/predict.ts'))).toBe(true);
    expect(lazyAmong(afterWav.modules)).toEqual([]);
    const loadedLater = lazyAmong(afterOthers.modules).map((url) =>
      url.replace(/^.*\/(node_modules|lambdas)\//, ''),
    );
    expect(loadedLater).toEqual(
      expect.arrayContaining([
        'core/audio/mp4.ts',
        'core/audio/mp4-boxes.ts',
        'core/audio/mp4-fragments.ts',
        'core/audio/mp4-layout.ts',
        'core/audio/webm.ts',
        'core/audio/ebml.ts',
        expect.stringMatching(/^@audio\/decode-aac\//),
        expect.stringMatching(/^@wasm-audio-decoders\/flac\//),
        expect.stringMatching(/^@wasm-audio-decoders\/ogg-vorbis\//),
        expect.stringMatching(/^mpg123-decoder\//),
        expect.stringMatching(/^opus-decoder\//),
        expect.stringMatching(/^codec-parser\//),
      ]),
    );
  }, 60_000);
});
