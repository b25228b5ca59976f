import { createEventBridgeClient } from '../app/aws-clients.ts';
import type { AppConfig } from '../app/config.ts';
import { createEventBridgePublisher } from '../app/eventbridge-publisher.ts';
import type { PredictionEventPublisher } from '../app/prediction-events.ts';
import { tracer } from './observability.ts';

/**
 * Where a handler announces terminal predictions, swappable: EventBridge when the stack sets
 * EVENT_BUS_NAME, else nowhere until the local stack plugs in its own publisher (`use`). One for each
 * handler that ends records. (The bus itself, on the CDK side, is lib/constructs/prediction-event-bus.ts.)
 */
export function eventPublisherSlot(config: AppConfig) {
  let publisher: PredictionEventPublisher | undefined = config.eventBusName
    ? createEventBridgePublisher(
        tracer.captureAWSv3Client(createEventBridgeClient(config)),
        config.eventBusName,
      )
    : undefined;
  return {
    get publisher() {
      return publisher;
    },
    use(next: PredictionEventPublisher): void {
      publisher = next;
    },
  };
}
