import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IAlarm,
  type IMetric,
  Metric,
  SingleValueWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  apiStatusMetric,
  callbackMetric,
  METRICS_NAMESPACE,
  objectMetric,
  SERVICE_NAME,
  trainingJobMetric,
} from '../../lambdas/app/metric-names.ts';

export interface OperationsDashboardProps {
  /** The S3-triggered inference function (one invocation per S3 event). */
  readonly inferenceFunction: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly callbackDeadLetterQueue: IQueue;
  readonly restApi: RestApi;
  /** Every alarm of the stack, in one status widget. */
  readonly alarms: readonly IAlarm[];
  /** @default a name CloudFormation generates */
  readonly dashboardName?: string;
}

const MINUTE = Duration.minutes(1);

/** A sum of one of the handlers' Powertools counters per `period`. */
const handlerCount = (metricName: string, label: string, period = MINUTE): Metric =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: 'Sum',
    period,
    label,
  });

/**
 * One CloudWatch dashboard for the questions an operator asks first: how many predictions end in each
 * status, how long processing takes, whether events are being dead-lettered, whether inference fails or
 * waits, how the API and the callbacks answer, what training does, and which alarm is firing. The counts
 * are the handlers' Powertools metrics (`Objects_<outcome>` from the inference handler, `Api_<class>` and
 * `TrainingJobs_<result>` from the API handler, `Callbacks_<outcome>` from the deliverer), in the
 * namespace and `service` dimension the functions are configured with.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    this.dashboard = new Dashboard(this, 'Dashboard', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(...predictionWidgets(props.inferenceFunction));
    this.dashboard.addWidgets(
      deadLetterWidget(props.deadLetterQueue, props.callbackDeadLetterQueue),
      ...trainingWidgets(),
    );
    this.dashboard.addWidgets(...faultWidgets(props.inferenceFunction, props.restApi));
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24 }),
    );
  }
}

function predictionWidgets(inference: IFunction): GraphWidget[] {
  const duration = (statistic: 'p50' | 'p95'): IMetric =>
    inference.metricDuration({ statistic, period: MINUTE, label: statistic });
  return [
    new GraphWidget({
      title: 'Predictions per minute by status',
      left: [
        handlerCount(objectMetric('succeeded'), 'SUCCEEDED'),
        handlerCount(objectMetric('failed'), 'FAILED'),
        handlerCount(objectMetric('duplicate'), 'duplicate event (skipped)'),
        // An erased drop-folder speaker's clip whose event came late (processor or dead-letter recorder).
        handlerCount(objectMetric('erased'), "erased speaker's late clip (deleted)"),
      ],
      width: 12,
    }),
    new GraphWidget({
      title: 'Processing time per S3 event (inference function), ms',
      left: [duration('p50'), duration('p95')],
      width: 12,
    }),
  ];
}

function deadLetterWidget(inference: IQueue, callbacks: IQueue): GraphWidget {
  const depth = (queue: IQueue, label: string) =>
    queue.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum', label });
  return new GraphWidget({
    title: 'Dead-letter queue depth (what failed every retry; ser replay)',
    left: [depth(inference, 'S3 events (inference)'), depth(callbacks, 'callbacks')],
    width: 12,
  });
}

/** What fails or waits: inference errors and throttles, the API's answers, the callbacks' deliveries. */
function faultWidgets(inference: IFunction, api: RestApi): GraphWidget[] {
  return [
    new GraphWidget({
      title: 'Inference errors and throttles per minute',
      left: [
        inference.metricErrors({ period: MINUTE, label: 'errors (retried, then dead-lettered)' }),
        inference.metricThrottles({ period: MINUTE, label: 'throttled (waits for reserved concurrency)' }),
      ],
      width: 8,
    }),
    new GraphWidget({
      title: 'API answers per minute by status class',
      left: [
        handlerCount(apiStatusMetric(200), '2xx'),
        handlerCount(apiStatusMetric(400), '4xx'),
        handlerCount(apiStatusMetric(500), "5xx (the function's)"),
        api.metricServerError({
          period: MINUTE,
          label: '5xx at the gateway (failed or timed-out function too)',
        }),
      ],
      width: 8,
    }),
    new GraphWidget({
      title: 'Callbacks per minute',
      left: [
        handlerCount(callbackMetric('delivered'), 'delivered'),
        handlerCount(callbackMetric('skipped'), 'skipped'),
        handlerCount(callbackMetric('failed'), 'failed (retried, then dead-lettered)'),
      ],
      width: 8,
    }),
  ];
}

function trainingWidgets(): (GraphWidget | SingleValueWidget)[] {
  const hour = Duration.hours(1);
  return [
    new GraphWidget({
      title: 'Training jobs per hour',
      left: [
        handlerCount(trainingJobMetric('started'), 'started', hour),
        handlerCount(trainingJobMetric('refused'), 'refused (another job runs)', hour),
      ],
      width: 8,
    }),
    new SingleValueWidget({
      title: 'Training jobs started (24 h)',
      metrics: [handlerCount(trainingJobMetric('started'), 'started', Duration.days(1))],
      width: 4,
    }),
  ];
}
