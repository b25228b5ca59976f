import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { TRAINING_LEADING_KEYS } from '../../lambdas/training/job-repository.ts';
import { REGISTRY_LEADING_KEYS } from '../../lambdas/training/model-registry.ts';

/**
 * Item-level grants on the one table that predictions, speaker statistics, training jobs and the model
 * registry share: IAM's `dynamodb:LeadingKeys` condition decides which items (partition keys) an action
 * may touch, so a function that only records predictions cannot switch the live model or hold the
 * training lock.
 */

/** Every item the training side and the registry own: jobs, the lock, model versions, the active pointer. */
export const TRAINING_AND_REGISTRY_KEYS = [...TRAINING_LEADING_KEYS, ...REGISTRY_LEADING_KEYS];

/** Which items: keys matching `only` these, and (both given: also) not matching `except` these. */
type ItemScope =
  | { only: readonly string[]; except?: readonly string[] }
  | { only?: readonly string[]; except: readonly string[] };

const condition = (scope: ItemScope) => ({
  ...(scope.only ? { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...scope.only] } } : {}),
  ...(scope.except ? { 'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': [...scope.except] } } : {}),
});

/** `actions` on the table's items whose keys are `only` these and not `except` these (patterns with `*`, `?`). */
export function itemStatement(table: ITable, actions: string[], scope: ItemScope): PolicyStatement {
  return new PolicyStatement({ actions, resources: [table.tableArn], conditions: condition(scope) });
}

export function grantItems(grantee: IGrantable, table: ITable, actions: string[], scope: ItemScope): void {
  grantee.grantPrincipal.addToPrincipalPolicy(itemStatement(table, actions, scope));
}
