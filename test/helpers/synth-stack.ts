import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SerStack, type SerStackProps } from '../../lib/ser-stack.ts';

/**
 * A SerStack synthesised for assertions on its template: no function is bundled (the asset test covers
 * the real asset), and CloudFormation's built-in validation (seconds per stack) runs only when asked.
 */
export function synthStack(id: string, props: SerStackProps, { validate = false } = {}) {
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: validate,
  });
  const stack = new SerStack(app, id, props);
  return { stack, template: Template.fromStack(stack) };
}
