import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * One logger, metrics and tracer per function, configured by the POWERTOOLS_* environment the stack
 * sets (service name, namespace, log level). Off AWS the tracer is disabled by Powertools itself.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ser-api' });
export const metrics = new Metrics({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ser-api',
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'SerApi',
});
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ser-api' });
