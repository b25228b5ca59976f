import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmNotificationsProps {
  /** Subscribed by email to a topic of the stack's own (the address must confirm the subscription). */
  readonly email?: string;
  /** An existing topic (a team's, a chat integration's) that every alarm notifies as well. */
  readonly topicArn?: string;
}

const CLOUDWATCH = new ServicePrincipal('cloudwatch.amazonaws.com');

/**
 * Where the alarms go: a topic of the stack's own with an email subscription (`-c alarmEmail`), an
 * existing topic (`-c alarmTopicArn`), both, or nowhere. `notify` makes each alarm publish to every topic
 * when it fires and when it is OK again.
 */
export class AlarmNotifications extends Construct {
  /** The stack's own topic, when an email address was given. */
  readonly topic: Topic | undefined;
  readonly topics: ITopic[];

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps) {
    super(scope, id);
    this.topic = props.email ? this.createTopic(props.email) : undefined;
    this.topics = [
      ...(this.topic ? [this.topic] : []),
      ...(props.topicArn ? [Topic.fromTopicArn(this, 'ExistingTopic', props.topicArn)] : []),
    ];
  }

  notify(alarms: readonly Alarm[]): void {
    for (const topic of this.topics) {
      const action = new SnsAction(topic);
      for (const alarm of alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  /**
   * Encrypted at rest with a key of its own: CloudWatch cannot publish to a topic under the AWS-managed SNS
   * key, whose policy does not let it use the key (and cannot be changed), so the alarms would fail silently.
   */
  private createTopic(email: string): Topic {
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts the SER alarm topic; CloudWatch alarms may use it to publish there',
      enableKeyRotation: true,
      // Nothing else is encrypted with it: it goes with the stack (after KMS's shortest waiting period).
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [CLOUDWATCH],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const topic = new Topic(this, 'Topic', { displayName: 'SER alarms', masterKey: key, enforceSSL: true });
    // The topic's policy (enforceSSL writes one) must let CloudWatch publish, for this account's alarms only.
    const { account, partition, region } = Stack.of(this);
    topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [CLOUDWATCH],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': account },
        },
      }),
    );
    topic.addSubscription(new EmailSubscription(email));
    return topic;
  }
}
