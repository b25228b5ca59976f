import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { EventBridgeEvent } from 'aws-lambda';
import {
  EVENT_SOURCE,
  type PredictionDetailType,
  type PredictionEvent,
  type PredictionEventDetail,
  type PredictionEventPublisher,
} from '../../lambdas/app/prediction-events.ts';
import { LOCAL_REGION } from './local-aws.ts';

export type PredictionEventEnvelope = EventBridgeEvent<PredictionDetailType, PredictionEventDetail>;

/** The event as EventBridge hands it to a rule's target. */
export function toEventBridgeEvent({ detailType, detail }: PredictionEvent): PredictionEventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: EVENT_SOURCE,
    account: '000000000000',
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [],
    detail,
  };
}

/**
 * The default bus's stand-in: each event is appended to a JSON-lines file (what a catch-all rule to a
 * log would see) and handed to the local rules, as `onEvent`.
 */
export function createLocalEventBus(options: {
  file: string;
  onEvent: (event: PredictionEventEnvelope) => void;
}): PredictionEventPublisher {
  return {
    async publish(event) {
      const envelope = toEventBridgeEvent(event);
      await appendFile(options.file, `${JSON.stringify(envelope)}\n`);
      options.onEvent(envelope);
    },
  };
}
