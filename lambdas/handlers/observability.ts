import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_NAMESPACE, objectMetric, SERVICE_NAME } from '../app/metric-names.ts';

/**
 * One logger, metrics and tracer per function, configured by the POWERTOOLS_* environment the stack
 * sets (service name, namespace, log level). Off AWS the tracer is disabled by Powertools itself.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME;
export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
});
export const tracer = new Tracer({ serviceName });

/**
 * Objects of an erased speaker whose dead-lettered or failed replayed event was dropped (no record, the
 * object deleted): logged, and counted with the processor's own (`Objects_erased`). Published here, as
 * the dead-letter recorder has no metrics otherwise.
 */
export function reportErased(keys: readonly string[]): void {
  if (keys.length === 0) return;
  logger.warn('Dead-lettered objects of an erased speaker: not recorded, deleted', { keys });
  metrics.addMetric(objectMetric('erased'), MetricUnit.Count, keys.length);
  metrics.publishStoredMetrics();
}
