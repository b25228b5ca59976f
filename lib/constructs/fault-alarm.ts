import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

export interface FaultAlarmProps {
  /** What happened and the runbook: the text an operator reads in the notification. */
  readonly description: string;
  /** A count of faults (errors, dead-lettered messages) per period. */
  readonly metric: IMetric;
  /** @default 1: every fault counts */
  readonly threshold?: number;
  /** Consecutive periods at or above the threshold before it fires. @default 1 */
  readonly evaluationPeriods?: number;
}

/**
 * The stack's alarms all watch a count of faults: at or above the threshold it fires, and a period without
 * data (no traffic, an empty queue) is no fault. The stack routes every alarm (AlarmNotifications).
 */
export const faultAlarm = (scope: Construct, id: string, props: FaultAlarmProps): Alarm =>
  new Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: props.threshold ?? 1,
    evaluationPeriods: props.evaluationPeriods ?? 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
