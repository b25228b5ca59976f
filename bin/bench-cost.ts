/**
 * AWS Lambda cost of the inference function, estimated from what the bench measured on this machine.
 *
 * Model (an estimate, not a measurement in AWS): Lambda gives a function CPU in proportion to its memory,
 * one full vCPU at 1769 MB; our work per event is single-threaded, so below 1769 MB it runs
 * `1769 / memory` times slower than on one full core, and above it no faster. The per-event time is
 * `prediction + overhead`, both measured here on one core: the prediction is the bench's median on the
 * 3 s clips; the overhead is the local stack's per-event time minus the prediction (S3 GetObject,
 * DynamoDB writes, the result object — against local servers sharing this CPU, so the waits
 * count as CPU too: an upper bound). Billed per invocation in whole milliseconds.
 */
export const FULL_VCPU_MB = 1769;
export const MEMORY_SIZES_MB = [512, 1024, 1769] as const;
/** AWS list price, x86, us-east-1 (not a measurement): per GB-second and per million requests. */
export const PRICE_PER_GB_SECOND_USD = 0.0000166667;
export const PRICE_PER_MILLION_REQUESTS_USD = 0.2;

export interface LambdaCost {
  memoryMb: number;
  /** Estimated billed duration of one event, ms. */
  durationMs: number;
  gbSecondsPer1000: number;
  usdPer1000: number;
}

export function estimateLambdaCost(predictionMs: number, overheadMs: number): LambdaCost[] {
  return MEMORY_SIZES_MB.map((memoryMb) => {
    const slowdown = Math.max(1, FULL_VCPU_MB / memoryMb);
    const durationMs = Math.ceil((predictionMs + overheadMs) * slowdown);
    const gbSecondsPer1000 = (1000 * durationMs * memoryMb) / 1000 / 1024;
    const usdPer1000 = gbSecondsPer1000 * PRICE_PER_GB_SECOND_USD + PRICE_PER_MILLION_REQUESTS_USD / 1000;
    return {
      memoryMb,
      durationMs,
      gbSecondsPer1000: Math.round(gbSecondsPer1000 * 1000) / 1000,
      usdPer1000: Math.round(usdPer1000 * 1e6) / 1e6,
    };
  });
}
