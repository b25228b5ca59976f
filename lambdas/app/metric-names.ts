import type { ProcessOutcome } from './object-processor.ts';

/** The metrics namespace and the `service` dimension (and log/trace service name) of every function. */
export const METRICS_NAMESPACE = 'SerApi';
export const SERVICE_NAME = 'ser-api';

/**
 * The handlers' custom metric names (Powertools, namespace and `service` dimension from the stack), one
 * home for the handlers that emit them and the operations dashboard that graphs them.
 */
export const objectMetric = (outcome: ProcessOutcome['outcome']) => `Objects_${outcome}` as const;

/** Each API answer by status class: `Api_2xx`, `Api_4xx`, `Api_5xx`. */
export const apiStatusMetric = (statusCode: number) => `Api_${Math.floor(statusCode / 100)}xx` as const;

export type TrainingJobOutcome = 'started' | 'refused';
export const trainingJobMetric = (outcome: TrainingJobOutcome) => `TrainingJobs_${outcome}` as const;

export const callbackMetric = (outcome: 'delivered' | 'skipped' | 'failed') =>
  `Callbacks_${outcome}` as const;
