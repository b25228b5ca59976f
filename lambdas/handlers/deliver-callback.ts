import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { timeouts } from '../app/aws-timeouts.ts';
import { type DeliveryOutcome, deliverCallback } from '../app/callback-delivery.ts';
import { loadCallbackConfig } from '../app/config.ts';
import { callbackMetric } from '../app/metric-names.ts';
import { type PredictionDetailType, PredictionEventDetailSchema } from '../app/prediction-events.ts';
import { secretsManagerWebhookSecrets } from '../app/secrets-manager-webhook-secrets.ts';
import { staticWebhookSecret } from '../app/webhook-secrets.ts';
import { logger, metrics, tracer } from './observability.ts';

// Cold start: configuration and the secrets client once per execution environment.
const config = loadCallbackConfig();
const secrets = config.staticSecret
  ? staticWebhookSecret(config.staticSecret)
  : secretsManagerWebhookSecrets(
      tracer.captureAWSv3Client(
        new SecretsManagerClient({ region: config.region, requestHandler: timeouts() }),
      ),
      config.secretPrefix!,
    );
const deps = {
  secrets,
  urlPolicy: { allowHttpLoopback: config.allowHttpLoopback },
  attempts: config.attempts,
  backoffMs: config.backoffMs,
};

/**
 * EventBridge rule (a prediction event whose upload asked for a callback) → one signed POST, retried.
 * A failure throws: Lambda retries the event twice, then its on-failure destination (an SQS DLQ) keeps it.
 */
export const handler = middy<EventBridgeEvent<PredictionDetailType, unknown>, DeliveryOutcome>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const detail = PredictionEventDetailSchema.parse(event.detail);
    try {
      const outcome = await deliverCallback(deps, event['detail-type'], detail);
      metrics.addMetric(callbackMetric(outcome.delivered ? 'delivered' : 'skipped'), MetricUnit.Count, 1);
      logger.info('Callback', { id: detail.id, eventId: detail.eventId, ...outcome });
      return outcome;
    } catch (error) {
      metrics.addMetric(callbackMetric('failed'), MetricUnit.Count, 1);
      throw error;
    }
  });
