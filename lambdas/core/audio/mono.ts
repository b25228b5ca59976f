/**
 * Averages channels to mono. Accepts de-interleaved channels (what the WASM decoders return) or one
 * interleaved buffer with its channel count. A single channel is returned as-is (no copy).
 */
export function toMono(channels: readonly Float32Array[]): Float32Array;
export function toMono(interleaved: Float32Array, channelCount: number): Float32Array;
export function toMono(input: readonly Float32Array[] | Float32Array, channelCount?: number): Float32Array {
  if (input instanceof Float32Array) {
    const count = channelCount ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`Invalid channel count ${channelCount}`);
    if (count === 1) return input;
    const frames = Math.floor(input.length / count);
    const mono = new Float32Array(frames);
    for (let f = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < count; c++) sum += input[f * count + c]!;
      mono[f] = sum / count;
    }
    return mono;
  }
  if (input.length === 0) return new Float32Array(0);
  if (input.length === 1) return input[0]!;
  const frames = Math.min(...input.map((channel) => channel.length));
  const mono = new Float32Array(frames);
  for (const channel of input) {
    for (let i = 0; i < frames; i++) mono[i]! += channel[i]!;
  }
  const gain = 1 / input.length;
  for (let i = 0; i < frames; i++) mono[i]! *= gain;
  return mono;
}

/**
 * Whether a mix cancelled: channels in opposite phase (one wired or recorded inverted, or "wide" stereo)
 * average to near silence, and the loud speech in them would be judged NO_SPEECH. Below 1 % of the first
 * channel's energy the first channel alone is the recording; uncorrelated channels keep about half.
 */
export const mixCancelled = (mixEnergy: number, firstChannelEnergy: number): boolean =>
  firstChannelEnergy > 0 && mixEnergy < 0.01 * firstChannelEnergy;
