import { CfnResource, type IAspect, RemovalPolicy, Token } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/** How long every function's log and the API's execution log are kept (README: 30 days). */
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;
/** Who asked what: the API's access log and the training VPC's flow log, kept for a late investigation. */
export const REQUEST_LOG_RETENTION = RetentionDays.THREE_MONTHS;

/**
 * A log group with `retention` (gone with the stack, as the logs it would otherwise keep forever).
 * One home for how the stack's log groups are made.
 */
export const logGroupWithRetention = (scope: IConstruct, id: string, retention: RetentionDays): LogGroup =>
  new LogGroup(scope, id, { retention, removalPolicy: RemovalPolicy.DESTROY });

/**
 * Gives every Lambda function of the stack a log group with FUNCTION_LOG_RETENTION unless it names one
 * (SerFunction does). aws-cdk-lib's own functions — the bucket-notification handler, BucketDeployment's,
 * AwsCustomResource's, the auto-delete-objects provider's — have no retention setting of their own, so
 * Lambda would create `/aws/lambda/<name>` at their first run and keep it forever. Lambda's LoggingConfig
 * points each to a group of the stack's instead (the function's basic execution role may write any group).
 * Some are raw `AWS::Lambda::Function` CfnResources, not CfnFunctions: they get a property override.
 */
export class FunctionLogRetention implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource) || node.cfnResourceType !== 'AWS::Lambda::Function') return;
    if (node instanceof CfnFunction && namesLogGroup(node)) return;
    const scope = node.node.scope!;
    const id = `${node.node.id}Logs`;
    // Each synthesis visits again (a test may synthesise a stack twice): the group is made once.
    if (scope.node.tryFindChild(id)) return;
    const logGroup = logGroupWithRetention(scope, id, FUNCTION_LOG_RETENTION);
    if (node instanceof CfnFunction) {
      node.loggingConfig = { ...(node.loggingConfig as object | undefined), logGroup: logGroup.logGroupName };
    } else {
      node.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    }
  }
}

const namesLogGroup = (fn: CfnFunction): boolean => {
  const config = fn.loggingConfig;
  return config !== undefined && (Token.isUnresolved(config) || 'logGroup' in config);
};
