import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { SNSEvent } from 'aws-lambda';
import { createDocumentClient, createS3Client } from '../app/aws-clients.ts';
import { loadConfig } from '../app/config.ts';
import { recordDeadLetter } from '../app/dead-letter.ts';
import type { PredictionEventPublisher } from '../app/prediction-events.ts';
import { PredictionRepository } from '../app/prediction-repository.ts';
import { eventPublisherSlot } from './event-publisher-slot.ts';
import { logger, reportErased, tracer } from './observability.ts';

const config = loadConfig();
const repository = new PredictionRepository(tracer.captureAWSv3Client(createDocumentClient(config)), config);
// A drop-folder object's FAILED record also gets its result file, where the folder's readers look; an
// erased speaker's object is deleted instead.
const s3 = tracer.captureAWSv3Client(createS3Client(config));
// The records it ends FAILED are announced like every terminal one.
const events = eventPublisherSlot(config);
export const usePredictionEvents = (publisher: PredictionEventPublisher): void => events.use(publisher);

/**
 * The inference function's on-failure topic → the records of the dead-lettered event end FAILED
 * (PROCESSING_FAILED). The same message reaches the dead-letter queue through the topic's other
 * subscription and stays there for `ser replay`. A failure here is retried by SNS's own policy.
 */
export const handler = middy<SNSEvent, string[]>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const marked: string[] = [];
    for (const record of event.Records) {
      const outcome = await recordDeadLetter(
        repository,
        JSON.parse(record.Sns.Message),
        events.publisher,
        s3,
        config.speakerFolders,
      );
      marked.push(...outcome.marked);
      logger.warn('Dead-lettered event: records ended FAILED (PROCESSING_FAILED)', { ids: outcome.marked });
      reportErased(outcome.erased);
    }
    return marked;
  });
