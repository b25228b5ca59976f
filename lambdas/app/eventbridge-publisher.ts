import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type PredictionEvent, type PredictionEventPublisher } from './prediction-events.ts';

/** PutEvents can accept the call and still refuse the entry: that is a failure too. */
export class EventPublishError extends Error {
  override readonly name = 'EventPublishError';
}

/**
 * Publishes prediction events to the EventBridge bus `eventBusName` (the stack's `EVENT_BUS_NAME`), where
 * users' rules route them to SQS, Step Functions, Lambda — and ours to callback delivery.
 */
export function createEventBridgePublisher(
  client: EventBridgeClient,
  eventBusName: string,
): PredictionEventPublisher {
  return {
    async publish({ detailType, detail }: PredictionEvent) {
      const { FailedEntryCount, Entries } = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: eventBusName,
              Source: EVENT_SOURCE,
              DetailType: detailType,
              Detail: JSON.stringify(detail),
              Resources: [],
            },
          ],
        }),
      );
      if (FailedEntryCount) {
        const entry = Entries?.[0];
        throw new EventPublishError(
          `EventBridge refused the ${detailType} event of ${detail.id}: ${entry?.ErrorCode} ${entry?.ErrorMessage}`,
        );
      }
    },
  };
}
