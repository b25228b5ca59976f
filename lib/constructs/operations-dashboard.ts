import { Duration } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, type IMetric, Metric, SingleValueWidget } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  objectMetric,
  SERVICE_NAME,
  trainingJobMetric,
} from '../../lambdas/app/metric-names.ts';

export interface OperationsDashboardProps {
  /** The S3-triggered inference function (one invocation per S3 event). */
  readonly inferenceFunction: IFunction;
  readonly deadLetterQueue: IQueue;
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
 * status, how long processing takes, whether events are being dead-lettered, and what training does.
 * The counts are the handlers' Powertools metrics (`Objects_<outcome>` from the inference handler,
 * `TrainingJobs_<result>` from the API handler), in the namespace and `service` dimension the functions
 * are configured with.
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
    this.dashboard.addWidgets(deadLetterWidget(props.deadLetterQueue), ...trainingWidgets());
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

function deadLetterWidget(queue: IQueue): GraphWidget {
  return new GraphWidget({
    title: 'Dead-letter queue depth (events that failed every retry; ser replay)',
    left: [
      queue.metricApproximateNumberOfMessagesVisible({
        period: MINUTE,
        statistic: 'Maximum',
        label: 'messages',
      }),
    ],
    width: 12,
  });
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
