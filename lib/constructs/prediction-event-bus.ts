import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/**
 * Terminal predictions are announced on the account's default bus (lambdas/app/prediction-events.ts):
 * users' rules on it route them on, and so does the callback rule.
 */
export const PREDICTION_EVENT_BUS_NAME = 'default';

/** The bus, for a rule that listens to it. */
export const predictionEventBus = (scope: Construct, id: string): IEventBus =>
  EventBus.fromEventBusName(scope, id, PREDICTION_EVENT_BUS_NAME);

/** A function that announces predictions: the bus's name in its environment and PutEvents on it, together. */
export function bindPredictionEvents(scope: Construct, id: string, fn: LambdaFunction): void {
  fn.addEnvironment('EVENT_BUS_NAME', PREDICTION_EVENT_BUS_NAME);
  predictionEventBus(scope, id).grantPutEventsTo(fn);
}
