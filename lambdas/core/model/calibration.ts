import * as z from 'zod';

/**
 * Confidence calibration carried by a model package (`metadata.calibration`). The graph's softmax is
 * trained to be right, not to be honest about how often it is right; on voices it never heard it is
 * over-confident. Temperature scaling (Guo et al. 2017) divides the log-probabilities by one number T
 * fitted on held-out predictions, which keeps the ranking (the emotion never changes) and makes "70 %"
 * mean right about 70 % of the time on such voices.
 *
 * - `temperature`: T > 1 softens, T < 1 sharpens; applied to each window's probabilities before windows
 *   are averaged.
 * - `lowConfidenceBelow`: a prediction whose calibrated confidence is below this is flagged
 *   `lowConfidence: true` (the API, CLI and web page show it).
 * Packages made before calibration existed have no such field: T = 1 and no flag threshold.
 */
export const CalibrationSchema = z
  .object({
    method: z.literal('temperature'),
    temperature: z.number().positive().max(100),
    lowConfidenceBelow: z.number().min(0).max(1),
    /** What the temperature was fitted on, for the report (free text). */
    fittedOn: z.string().optional(),
  })
  .strict();

export type Calibration = z.infer<typeof CalibrationSchema>;

/** softmax(log(p) / T), in place on `rows` rows of `labels` probabilities. */
export function applyTemperature(probabilities: Float32Array, labels: number, temperature: number): void {
  if (temperature === 1) return;
  for (let start = 0; start < probabilities.length; start += labels) {
    let max = -Infinity;
    for (let i = 0; i < labels; i++) {
      const logit = Math.log(Math.max(probabilities[start + i]!, 1e-12)) / temperature;
      probabilities[start + i] = logit;
      max = Math.max(max, logit);
    }
    let sum = 0;
    for (let i = 0; i < labels; i++) {
      const e = Math.exp(probabilities[start + i]! - max);
      probabilities[start + i] = e;
      sum += e;
    }
    for (let i = 0; i < labels; i++) probabilities[start + i]! /= sum;
  }
}
