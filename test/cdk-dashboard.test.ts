import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeModelPackage } from './helpers/fake-model-package.ts';
import { synthStack } from './helpers/synth-stack.ts';

interface MetricWidget {
  type: string;
  properties: { title: string; metrics?: unknown[][]; stat?: string; period?: number };
}

const model = fakeModelPackage('dashboard-model');
const modelDir = model.dir;

describe('operations dashboard', () => {
  let widgets: MetricWidget[];
  let alarmCount: number;

  /** The widget whose title starts with `title`, and its metrics as [namespace, name, …, options]. */
  const widget = (title: string) => {
    const found = widgets.filter((w) => w.properties.title.startsWith(title));
    expect(found, title).toHaveLength(1);
    return found[0]!.properties;
  };
  const metricNames = (title: string) => (widget(title).metrics ?? []).map((m) => `${m[0]} ${m[1]}`);
  const optionsOf = (title: string) =>
    (widget(title).metrics ?? []).map((m) => m[m.length - 1] as { stat?: string; period?: number });

  beforeAll(() => {
    const { template } = synthStack('SerDashboardTest', { modelDir });
    alarmCount = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length;
    const dashboards = template.findResources('AWS::CloudWatch::Dashboard');
    expect(Object.keys(dashboards)).toHaveLength(1);
    // The body is a Fn::Join of JSON text and references (function name, queue name): join it with
    // the references as placeholders, and the result is the dashboard's JSON.
    const body = Object.values(dashboards)[0]!.Properties.DashboardBody as {
      'Fn::Join': [string, unknown[]];
    };
    const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'REF')).join('');
    widgets = (JSON.parse(text) as { widgets: MetricWidget[] }).widgets;
  });

  afterAll(() => model.remove());

  it('counts predictions per minute by status from the inference handler metrics', () => {
    expect(metricNames('Predictions per minute by status')).toEqual([
      'SerApi Objects_succeeded',
      'SerApi Objects_failed',
      'SerApi Objects_duplicate',
      'SerApi Objects_erased',
    ]);
    for (const options of optionsOf('Predictions per minute by status')) {
      expect(options).toMatchObject({ stat: 'Sum', period: 60 });
    }
  });

  it("shows the inference function's p50 and p95 processing time", () => {
    expect(metricNames('Processing time')).toEqual(['AWS/Lambda Duration', 'AWS/Lambda Duration']);
    expect(optionsOf('Processing time').map((o) => o.stat)).toEqual(['p50', 'p95']);
  });

  it('shows the depth of both dead-letter queues (inference events and callbacks)', () => {
    expect(metricNames('Dead-letter queue depth')).toEqual([
      'AWS/SQS ApproximateNumberOfMessagesVisible',
      'AWS/SQS ApproximateNumberOfMessagesVisible',
    ]);
  });

  it('graphs every metric the handlers emit and the inference faults an alarm watches', () => {
    expect(metricNames('Inference errors and throttles')).toEqual([
      'AWS/Lambda Errors',
      'AWS/Lambda Throttles',
    ]);
    expect(metricNames('API answers per minute')).toEqual([
      'SerApi Api_2xx',
      'SerApi Api_4xx',
      'SerApi Api_5xx',
      'AWS/ApiGateway 5XXError',
    ]);
    expect(metricNames('Callbacks per minute')).toEqual([
      'SerApi Callbacks_delivered',
      'SerApi Callbacks_skipped',
      'SerApi Callbacks_failed',
    ]);
  });

  it('shows the state of every alarm of the stack', () => {
    const alarmsWidget = widgets.find((w) => w.properties.title === 'Alarms') as unknown as {
      type: string;
      properties: { alarms: unknown[] };
    };
    expect(alarmsWidget.type).toBe('alarm');
    expect(alarmsWidget.properties.alarms).toHaveLength(alarmCount);
    expect(alarmCount).toBe(6);
  });

  it('counts training jobs started and refused', () => {
    expect(metricNames('Training jobs per hour')).toEqual([
      'SerApi TrainingJobs_started',
      'SerApi TrainingJobs_refused',
    ]);
  });
});
