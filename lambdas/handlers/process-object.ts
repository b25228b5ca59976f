import { fileURLToPath } from 'node:url';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { createDocumentClient, createS3Client } from '../app/aws-clients.ts';
import { loadConfig } from '../app/config.ts';
import { isReplay, recordFailedReplay } from '../app/dead-letter.ts';
import { objectMetric } from '../app/metric-names.ts';
import { type ProcessOutcome, processObject } from '../app/object-processor.ts';
import type { PredictionEventPublisher } from '../app/prediction-events.ts';
import { PredictionRepository } from '../app/prediction-repository.ts';
import { parseS3Event } from '../app/s3-event.ts';
import { SpeakerRepository } from '../app/speaker-repository.ts';
import { BUNDLED_MODEL_DIR, bundledModelIn } from '../core/model/location.ts';
import { createPredictor } from '../core/predict.ts';
import { createActiveModelProvider } from '../training/active-model.ts';
import { loadActiveModelConfig } from '../training/active-model-config.ts';
import { ModelRegistry } from '../training/model-registry.ts';
import { eventPublisherSlot } from './event-publisher-slot.ts';
import { logger, metrics, reportErased, tracer } from './observability.ts';

// Cold start: the model is loaded once per execution environment, never per invocation.
const config = loadConfig();
const predictor = await createPredictor({
  // In the Lambda asset the model package sits beside the bundle; from source, the repository's.
  modelDir:
    config.modelDir ?? bundledModelIn(fileURLToPath(new URL('.', import.meta.url))) ?? BUNDLED_MODEL_DIR,
  // No warm-up: an S3-triggered cold start runs init and then the event that caused it, so compiling all
  // four WASM decoders and a synthetic prediction first only added work (~100 ms of CPU to a WAV's or a
  // FLAC's cold start, bin/bench-cold.ts in paired runs); each decoder compiles on its first file instead.
  // Worth turning on only where init runs ahead of traffic (provisioned concurrency).
  warmUp: false,
});
const s3 = tracer.captureAWSv3Client(createS3Client(config));
const documents = tracer.captureAWSv3Client(createDocumentClient(config));
// The bundled model is the fallback; the registry's active version is followed live. The stack registers
// the bundled model at deploy time (locally: npm start), so this function only reads the registry.
const registry = new ModelRegistry(documents, config);
const activeModel = createActiveModelProvider({
  registry,
  s3,
  bundled: predictor,
  refreshSec: loadActiveModelConfig().refreshSec,
  onError: (message, error) => logger.error(message, { error }),
});
await activeModel.refresh();
const events = eventPublisherSlot(config);
export const usePredictionEvents = (publisher: PredictionEventPublisher): void => events.use(publisher);
const deps = {
  s3,
  get events() {
    return events.publisher;
  },
  repository: new PredictionRepository(documents, config, s3),
  get predictor() {
    return activeModel.predictor;
  },
  maxUploadBytes: config.maxUploadBytes,
  maxDurationSec: config.maxDurationSec,
  speakers: new SpeakerRepository(documents, { ...config, ttlDays: config.speakerTtlDays }),
  speakerFolders: config.speakerFolders,
};
logger.info('Model loaded', { modelVersion: predictor.modelVersion });

/**
 * S3 event notification (uploads/ and incoming/) → one prediction per created object. Objects are
 * processed in order; a thrown infrastructure error fails the whole event, and the retry skips the
 * objects already finished (their claims say so).
 */
export const handler = middy<unknown, ProcessOutcome[]>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    await activeModel.refresh();
    try {
      return await processEvent(event);
    } catch (error) {
      if (isReplay(event)) await recordReplayFailure(event, error);
      throw error;
    }
  });

/**
 * Ends a failed replay's records FAILED again (`recordFailedReplay`). The replay's own error stays what
 * the handler throws and `ser replay` reports: a failure here (an erasure marker's read, the update) is
 * logged beside it, not thrown in its place, and leaves the records as the replay left them.
 */
async function recordReplayFailure(event: unknown, error: unknown): Promise<void> {
  try {
    const recorded = await recordFailedReplay(
      deps.repository,
      event,
      error,
      events.publisher,
      deps.s3,
      config.speakerFolders,
    );
    reportErased(recorded.erased);
  } catch (recordingError) {
    logger.error('The failed replay could not be recorded (its own error follows)', {
      error: recordingError,
      replayError: error,
    });
  }
}

async function processEvent(event: unknown): Promise<ProcessOutcome[]> {
  const outcomes: ProcessOutcome[] = [];
  for (const ref of parseS3Event(event)) {
    const outcome = await processObject(deps, ref);
    outcomes.push(outcome);
    metrics.addMetric(objectMetric(outcome.outcome), MetricUnit.Count, 1);
    if (outcome.outcome === 'succeeded' || outcome.outcome === 'failed') {
      const { status, emotion, confidence, error } = outcome.prediction;
      logger.info('Processed object', { key: ref.key, id: outcome.id, status, emotion, confidence, error });
      if (outcome.warning) logger.warn(outcome.warning, { key: ref.key, id: outcome.id });
    } else if (outcome.outcome === 'erased') {
      logger.warn('Object of an erased speaker: not recorded, deleted', { key: ref.key, ...outcome });
    } else {
      logger.info('Skipped object', { key: ref.key, ...outcome });
    }
  }
  return outcomes;
}
