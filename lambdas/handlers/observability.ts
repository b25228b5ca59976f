import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../app/metric-names.ts';

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
