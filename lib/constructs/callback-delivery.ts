import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type { IApiKey } from 'aws-cdk-lib/aws-apigateway';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DETAIL_TYPES, EVENT_SOURCE } from '../../lambdas/app/prediction-events.ts';
import { HANDLERS_DIR } from '../paths.ts';
import { faultAlarm } from './fault-alarm.ts';
import { predictionEventBus } from './prediction-event-bus.ts';
import { SerFunction } from './ser-function.ts';

export interface CallbackDeliveryProps {
  /** The stack's API key: its webhook secret is created here; further keys get theirs from an operator. */
  readonly apiKey: IApiKey;
  /**
   * At most this many deliveries at once (`null`: no reservation, for accounts with the default quota of
   * 10). A receiver that never answers holds each delivery ~45 s: unbounded, a key holder could take the
   * account's concurrency from the API; throttled events wait in Lambda's async queue instead.
   * @default DEFAULT_CALLBACK_RESERVED_CONCURRENCY
   */
  readonly reservedConcurrency?: number | null;
}

/** Parallel callback deliveries unless the stack reserves none (`-c inferenceReservedConcurrency=none`). */
export const DEFAULT_CALLBACK_RESERVED_CONCURRENCY = 5;

/**
 * Signed callbacks, off the inference hot path: a rule on the default bus takes the prediction events
 * whose upload named a `callbackUrl` to a delivery function (3 tries with backoff per invocation, Lambda's
 * 2 retries of the invocation, then an SQS DLQ with an alarm; the rule's own DLQ catches events it could
 * not hand over). Webhook secrets are Secrets Manager secrets named `<secretPrefix><API key id>`.
 */
export class CallbackDelivery extends Construct {
  readonly function: SerFunction;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;
  readonly rule: Rule;
  readonly secretPrefix: string;
  readonly defaultKeySecret: Secret;

  constructor(scope: Construct, id: string, props: CallbackDeliveryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.secretPrefix = `ser/${stack.stackName}/webhook/`;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.defaultKeySecret = new Secret(this, 'DefaultKeyWebhookSecret', {
      secretName: `${this.secretPrefix}${props.apiKey.keyId}`,
      description: 'Signs the callbacks of uploads made with the default API key (HMAC-SHA256)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    this.function = this.createFunction(
      stack,
      props.reservedConcurrency === undefined
        ? DEFAULT_CALLBACK_RESERVED_CONCURRENCY
        : props.reservedConcurrency,
    );
    this.rule = this.createRule();
    this.deadLetterAlarm = this.createDeadLetterAlarm();
  }

  /** The deliverer: reads the webhook secrets under the prefix only; failed invocations go to the DLQ. */
  private createFunction(stack: Stack, reservedConcurrency: number | null): SerFunction {
    const fn = new SerFunction(this, 'DeliverCallback', {
      entry: `${HANDLERS_DIR}deliver-callback.ts`,
      description: 'POSTs terminal predictions to their callback URL, signed',
      memorySize: 256,
      // 3 tries of at most 10 s each, plus 1 s and 2 s of backoff.
      timeout: Duration.seconds(45),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      ...(reservedConcurrency === null ? {} : { reservedConcurrentExecutions: reservedConcurrency }),
      onFailure: new SqsDestination(this.deadLetterQueue),
      environment: { WEBHOOK_SECRET_PREFIX: this.secretPrefix },
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [
          // Secrets Manager appends a random suffix to each secret's ARN: the `*` covers it.
          Arn.format(
            {
              service: 'secretsmanager',
              resource: 'secret',
              resourceName: `${this.secretPrefix}*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            },
            stack,
          ),
        ],
      }),
    );
    return fn;
  }

  /** Only the events whose upload asked for a callback; what the rule cannot hand over goes to the DLQ. */
  private createRule(): Rule {
    return new Rule(this, 'CallbackRule', {
      description: 'Prediction events whose upload asked for a callback',
      eventBus: predictionEventBus(this, 'DefaultBus'),
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: Object.values(DETAIL_TYPES),
        detail: { callback: { url: [{ exists: true }] } },
      },
      targets: [
        new LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
  }

  private createDeadLetterAlarm(): Alarm {
    return faultAlarm(this, 'DeadLetterAlarm', {
      description:
        'Callbacks could not be delivered after every retry. Runbook: read the message (responsePayload says ' +
        'why: receiver down, refused signature, missing webhook secret), fix it, then run the stack output ' +
        'CallbackReplayCommand (npx ser replay --queue-url <DLQ> --function-name <function>): each ' +
        'dead-lettered callback is delivered once more and its message deleted once delivered.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    });
  }
}
