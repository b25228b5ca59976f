import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';

// A file of its own: the sequence below must meet the shared FLAC decoder as the first thing this
// process decodes (libFLAC's MISSING_FRAME on a reused decoder depends on what it decoded before).
const CLIPS = join(import.meta.dirname, '../bench/clips');
const load = (name: string) => new Uint8Array(readFileSync(join(CLIPS, name)));

describe('the shared FLAC decoder after a MISSING_FRAME', () => {
  it('retries on a fresh decoder without printing libFLAC errors to stderr', async () => {
    // Prepare: four TESS clips (4096-sample blocks) then a RAVDESS clip cut by ffmpeg (1152): on the
    // reused decoder libFLAC reports MISSING_FRAME, which its wrapper printed with console.error.
    const printed = vi.spyOn(console, 'error');
    const tess = ['OAF_chief_sad', 'OAF_gap_sad', 'YAF_join_disgust', 'YAF_seize_disgust'];
    const ravdess = load('ravdess-03-01-03-02-02-01-06.flac');

    // Act
    for (const name of tess) await decodeAudio(load(`tess-${name}.flac`), { outputRate: 16_000 });
    const reused = await decodeAudio(ravdess, { outputRate: 16_000 });

    // Assess: the same samples as on a fresh decoder, and nothing on stderr.
    expect(reused.samples).toEqual((await decodeAudio(ravdess, { outputRate: 16_000 })).samples);
    expect(reused.durationSec).toBeCloseTo(3, 2);
    expect(printed).not.toHaveBeenCalled();
    printed.mockRestore();
  });
});
